// pybridge/marshal/dlpack_stream.hpp — the stream handshake of the DLPack Python protocol.
//
// Spec: https://dmlc.github.io/dlpack/latest/python_spec.html and the array API's
// `__dlpack__(stream=...)`. Work on a GPU is ordered per stream, so a tensor's data is
// "ready" only on the stream that produced it. At a hand-off the consumer names the stream
// it will use the data on; before handing over, the producer makes that stream wait for
// its own work so far (an event recorded on the producer's stream, waited on by the
// consumer's: neither the host nor the GPU blocks). pybridge plays both roles:
//   - producer: DLPackTensor.__dlpack__(stream=s), and tensor_to_python() (the consumer is
//     torch, on its current stream); the host says where its data is ready with
//     Tensor::on_stream();
//   - consumer: tensor_from_dlpack(obj, {stream}) passes the host's stream to `__dlpack__`,
//     or, on the C exchange path (which never synchronises), asks the producer's table for
//     its current work stream and does the handshake itself. The result reports the
//     host's stream as its ready stream.
//
// Stream values, as the protocol spells them (StreamArg):
//   nullopt (None) the device's default stream: CUDA's legacy default stream (1), ROCm's 0
//   -1             no synchronisation (the caller has ordered the work itself)
//   CUDA           1 legacy default, 2 per-thread default, else a cudaStream_t; 0 is
//                  disallowed (ambiguous between the two defaults)
//   ROCm           0 default, else a hipStream_t; 1 and 2 are disallowed
//   other devices  only None or -1 (CPU work is synchronous; other devices' queues are
//                  not handled by pybridge)
// CUDA, CUDA managed and CUDA host (pinned) memory use CUDA's values; ROCm and ROCm host
// use ROCm's. The waiting itself goes through torch.cuda (pybridge/streams.py): pybridge
// does not link a GPU runtime.
//
// Thread contract: plan_stream_sync() and resolve_stream() are pure (any thread);
// synchronize(), work_stream() and torch_current_stream() run on the interpreter thread.
#pragma once

#include <cstdint>
#include <optional>

#include "../gil/python_token.hpp"
#include "dlpack.hpp"

namespace pyb::dlpack {

// A stream as the protocol's `stream` argument spells it (see above).
using StreamArg = std::optional<std::int64_t>;
inline constexpr std::int64_t kNoSync = -1;

// Devices whose work is ordered by streams pybridge synchronises: CUDA, CUDA managed, CUDA
// host, ROCm, ROCm host.
bool has_streams(DLDeviceType type) noexcept;

// The stream handle `arg` names on `device`, None resolved to the default stream (CUDA: 1,
// ROCm: 0); kNoSync stays kNoSync. Throws Error, naming the device and the value, for a
// value the spec disallows there (above) or one below -1.
std::int64_t resolve_stream(DLDevice device, StreamArg arg);

// What must happen before data ready on `producer` may be used on `consumer`.
struct StreamSync {
    bool wait = false;         // consumer must wait for the producer's work so far
    std::int64_t producer = 0;  // resolved handles (meaningful when wait)
    std::int64_t consumer = 0;
};

// The handshake for one hand-off on `device`: no wait on devices without streams, when
// either side is kNoSync, or when both name the same stream. Throws Error as
// resolve_stream() for either argument.
StreamSync plan_stream_sync(DLDevice device, StreamArg producer, StreamArg consumer);

// Carries out `plan` on `device` (nothing when !plan.wait): records an event on the
// producer's stream and makes the consumer's stream wait for it, through
// pybridge.streams.wait_stream (torch.cuda). Throws PythonError as torch raises (no CUDA,
// a bad stream handle).
void synchronize(Python, DLDevice device, const StreamSync &plan);

// The stream a C exchange table's framework works on for `device` now
// (current_work_stream), as a StreamArg: a NULL handle is the default stream (None);
// nullopt too for devices without streams or tables without the function. Throws
// PythonError if the table's function fails.
StreamArg work_stream(Python, const DLPackExchangeAPI &api, DLDevice device);

// torch's current stream on `device` (pybridge.streams.current_stream), for when torch's
// exchange table is not used; nullopt for devices without streams. Throws PythonError.
StreamArg torch_current_stream(Python, DLDevice device);

}  // namespace pyb::dlpack
