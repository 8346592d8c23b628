#include "call_slot.hpp"

#include <utility>

namespace pyb::detail {
namespace {

CallSlot g_slots[kCallSlots];
std::atomic<bool> g_owned[kCallSlots];  // apart from the slots: a claim does not touch their lines
std::atomic<int> g_in_use{0};           // high-water mark of claimed indices
std::atomic<unsigned> g_returns{0};  // bumped when a slot is given back

// A thread's claim. A thread that found no free slot tries again only after some slot was
// given back, so call() does not scan the slots every time.
struct SlotClaim {
    CallSlot *slot = nullptr;
    unsigned failed_at = ~0u;
    bool exited = false;  // a call() from a later thread_local destructor uses the queue
    ~SlotClaim() {
        exited = true;
        if (!slot) return;
        CallSlot *given_back = std::exchange(slot, nullptr);
        g_owned[given_back - g_slots].store(false, std::memory_order_release);
        g_returns.fetch_add(1, std::memory_order_release);
    }
};
thread_local SlotClaim t_claim;

}  // namespace

CallSlot *call_slots() noexcept { return g_slots; }

// seq_cst, like the claim: a thread's first publish must not slip past the loop's sleep check.
int call_slots_in_use() noexcept { return g_in_use.load(std::memory_order_seq_cst); }

CallSlot *this_thread_call_slot() noexcept {
    SlotClaim &claim = t_claim;
    if (claim.slot) return claim.slot;
    if (claim.exited) return nullptr;
    const unsigned returns = g_returns.load(std::memory_order_acquire);
    if (claim.failed_at == returns) return nullptr;
    for (int i = 0; i < kCallSlots; ++i) {
        std::atomic<bool> &owned = g_owned[i];
        if (owned.load(std::memory_order_relaxed) || owned.exchange(true, std::memory_order_acquire)) continue;
        int in_use = g_in_use.load(std::memory_order_relaxed);
        while (in_use < i + 1 && !g_in_use.compare_exchange_weak(in_use, i + 1, std::memory_order_seq_cst)) {
        }
        claim.slot = &g_slots[i];
        return claim.slot;
    }
    claim.failed_at = returns;
    return nullptr;
}

int this_thread_slot_index() noexcept {
    const CallSlot *slot = t_claim.slot;
    return slot ? static_cast<int>(slot - g_slots) : -1;
}

}  // namespace pyb::detail
