#include "dlpack_exchange.hpp"

#include <atomic>
#include <utility>
#include <vector>

namespace pyb::dlpack {
namespace {

std::atomic<bool> g_enabled{true};

// type -> table (null: the type offers none). Few distinct tensor types exist in a
// process; a linear scan beats hashing for that size.
std::vector<std::pair<PyTypeObject *, const DLPackExchangeAPI *>> g_cache;

const DLPackExchangeAPI *find_table(PyTypeObject *type) {
    PyObject *capsule = nullptr;
    for (const char *name : {"__dlpack_c_exchange_api__", "__c_dlpack_exchange_api__"}) {
        capsule = PyObject_GetAttrString(reinterpret_cast<PyObject *>(type), name);
        if (capsule) break;
        PyErr_Clear();
    }
    if (!capsule) return nullptr;
    auto *header = static_cast<DLPackExchangeAPIHeader *>(PyCapsule_GetPointer(capsule, "dlpack_exchange_api"));
    Py_DECREF(capsule);  // the table itself lives for the whole process (spec)
    if (!header) {
        PyErr_Clear();
        return nullptr;
    }
    // Newest first; older tables of our major version may follow in the chain.
    for (; header; header = header->prev_api) {
        if (header->version.major == DLPACK_MAJOR_VERSION) {
            auto *api = reinterpret_cast<const DLPackExchangeAPI *>(header);
            if (!api->managed_tensor_from_py_object_no_sync || !api->managed_tensor_to_py_object_no_sync)
                return nullptr;
            return api;
        }
    }
    return nullptr;
}

}  // namespace

const DLPackExchangeAPI *exchange_api_of(Python, PyTypeObject *type) noexcept {
    if (!g_enabled.load(std::memory_order_relaxed)) return nullptr;
    for (const auto &[t, api] : g_cache) {
        if (t == type) return api;
    }
    const DLPackExchangeAPI *api = find_table(type);
    try {
        g_cache.emplace_back(type, api);
        Py_INCREF(type);  // the cache compares by address: keep the type alive
    } catch (...) {
    }
    return api;
}

void set_exchange_api_enabled(bool enabled) noexcept { g_enabled.store(enabled, std::memory_order_relaxed); }
bool exchange_api_enabled() noexcept { return g_enabled.load(std::memory_order_relaxed); }

}  // namespace pyb::dlpack
