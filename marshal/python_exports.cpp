#include "python_exports.hpp"

#include <mutex>

#include "../gil/release_pool.hpp"

namespace pyb::detail {
namespace {

struct Registry {
    std::mutex mutex;
    PythonExport *head = nullptr;
};
Registry &registry() {
    static Registry *r = new Registry;  // never destroyed: exports may be freed at process exit
    return *r;
}

void unlink_locked(Registry &r, PythonExport &e) noexcept {
    if (e.prev) e.prev->next = e.next; else r.head = e.next;
    if (e.next) e.next->prev = e.prev;
    e.prev = e.next = nullptr;
    e.linked = false;
}

// Python runs no more code: every export still linked gives its host memory back. Done
// under the mutex, so a racing unlink_export (an object freed on another thread) waits and
// then finds its export unlinked; give_back runs host release callbacks, which must not
// call pybridge (tensor.hpp), so nothing here re-enters the registry.
void give_back_all() noexcept {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    while (PythonExport *e = r.head) {
        unlink_locked(r, *e);
        e->give_back(e);
    }
}

}  // namespace

void link_export(PythonExport &e) {
    static const bool hooked = (release_pool::at_python_exit(&give_back_all), true);
    (void)hooked;
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    e.prev = nullptr;
    e.next = r.head;
    if (r.head) r.head->prev = &e;
    r.head = &e;
    e.linked = true;
}

bool unlink_export(PythonExport &e) noexcept {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!e.linked) return false;
    unlink_locked(r, e);
    return true;
}

}  // namespace pyb::detail
