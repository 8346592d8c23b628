// pybridge/marshal/dlpack_exchange.hpp — the DLPack C exchange API (DLPack >= 1.3).
//
// A producer type may offer a table of C functions (DLPackExchangeAPI) as the type
// attribute `__dlpack_c_exchange_api__` (older name: `__c_dlpack_exchange_api__`), a capsule
// named "dlpack_exchange_api". Converting through the table needs no Python-level call and
// no capsule: torch.Tensor offers one, and so does pybridge's own tensor type
// (tensor_object.hpp). Spec: dlpack.h, "DLPackExchangeAPI".
//
// Thread contract: interpreter thread only (the lookups run Python attribute access).
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "dlpack.hpp"

namespace pyb::dlpack {

// The exchange table `type` offers, or null: no attribute, not a "dlpack_exchange_api"
// capsule, or a table of another DLPack major version (its header's version is checked,
// and an older table in its prev_api chain is used when the newest is too new). Cached per
// type; the cache keeps a strong reference to each type it has seen. Never throws; leaves
// no Python error set.
const DLPackExchangeAPI *exchange_api_of(Python, PyTypeObject *type) noexcept;

// Whether tensor conversions use a producer's exchange table where one is offered (the
// default), or always go through `__dlpack__` / capsules. For benchmarks and tests; the
// results are the same either way. Any thread.
void set_exchange_api_enabled(bool enabled) noexcept;
bool exchange_api_enabled() noexcept;

}  // namespace pyb::dlpack
