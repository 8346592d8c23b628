"""The GPU half of DLPack's stream handshake, called by pybridge's C++ side.

pybridge does not link a GPU runtime: when a hand-off needs one stream to wait for another
(marshal/dlpack_stream.hpp decides when), it calls these through torch.cuda, which drives
CUDA or ROCm as torch was built for. Stream values are the DLPack protocol's handles, already
resolved: on CUDA 1 is the legacy default stream and 2 the per-thread default stream; on ROCm
0 is the default stream; any other value is a cudaStream_t / hipStream_t.
"""

__all__ = ["current_stream", "wait_stream"]


def _torch_stream(handle: int, device_id: int):
    import torch

    device = torch.device("cuda", device_id)
    rocm = torch.version.hip is not None
    if (rocm and handle == 0) or (not rocm and handle == 1):
        return torch.cuda.default_stream(device)
    # Wraps the handle without taking ownership (2 is cudaStreamPerThread, a valid handle
    # for event record / wait).
    return torch.cuda.ExternalStream(handle, device=device)


def wait_stream(device_type: int, device_id: int, producer: int, consumer: int) -> None:
    """Makes stream `consumer` wait for the work queued on stream `producer` so far.

    Records an event on the producer's stream and has the consumer's stream wait for it:
    neither the host nor the GPU blocks. `device_type` is the DLPack device type (2 CUDA,
    3 CUDA host, 13 CUDA managed, 10 ROCm, 11 ROCm host); `device_id` the device index.
    """
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            f"pybridge: a DLPack hand-off on device type {device_type} needs stream {consumer} "
            f"to wait for stream {producer}, but torch.cuda is not available in this environment"
        )
    with torch.cuda.device(device_id):
        event = torch.cuda.Event()
        event.record(_torch_stream(producer, device_id))
        _torch_stream(consumer, device_id).wait_event(event)


def current_stream(device_type: int, device_id: int) -> int:
    """torch's current stream on the device, as a DLPack protocol stream value."""
    import torch

    handle = torch.cuda.current_stream(device_id).cuda_stream
    if handle == 0:  # the NULL stream: the default stream, spelled as the protocol does
        return 0 if torch.version.hip is not None else 1
    return handle
