// pybridge/marshal/python_exports.hpp — internal: host memory lent to Python, given back
// when the interpreter stops.
//
// A torch view of a host buffer (or a capsule, or a pybridge.DLPackTensor) that Python
// still holds when stop() runs would keep the host's memory — and the release callback the
// host gave Tensor::from_buffer — for ever: with torch loaded CPython is not finalized, so
// those objects are never freed. Each export links itself here while Python may reach it;
// once Python can run no more code at stop (release_pool::at_python_exit), every export
// still linked gives its host memory back, exactly once, and a later free of the Python
// object (finalization, a daemon thread) finds it already given back.
//
// Thread contract: link/unlink on any thread; the stop hook runs on the interpreter thread. One mutex: uncontended, two atomic operations per export and per free.
#pragma once

namespace pyb::detail {

struct PythonExport {
    PythonExport *prev = nullptr, *next = nullptr;
    bool linked = false;                      // guarded by the registry's mutex
    void (*give_back)(PythonExport *self) = nullptr;  // drops the host memory; mutex held
};

// Links `e` (its give_back set). Registers the stop hook on first use.
void link_export(PythonExport &e);
// Unlinks `e` if it still is linked; false if stop gave its memory back already.
bool unlink_export(PythonExport &e) noexcept;

}  // namespace pyb::detail
