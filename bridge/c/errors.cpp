// The C ABI's errors: the per-thread last error and the mapping from C++ exceptions.
#include <new>
#include <optional>

#include "handles.hpp"

namespace pyb::c {
namespace {

thread_local pyb_error t_last;
thread_local bool t_has_error = false;

pyb_status record(pyb_status status, std::string type, std::string message, std::string traceback = {},
                  std::optional<int> exit_code = std::nullopt) noexcept {
    try {
        t_last.status = status;
        t_last.type = std::move(type);
        t_last.message = std::move(message);
        t_last.traceback = std::move(traceback);
        t_last.has_exit_code = exit_code.has_value();
        t_last.exit_code = exit_code.value_or(0);
        t_has_error = true;
    } catch (...) {
        t_has_error = false;  // out of memory while recording: the status still says it
    }
    return status;
}

}  // namespace

pyb_status fail(pyb_status status, std::string message) { return record(status, "", std::move(message)); }

pyb_status fail_current() noexcept {
    try {
        throw;
    } catch (const PythonError &e) {
        return record(PYB_ERROR_PYTHON, e.type_name(), e.message(), e.traceback(), e.exit_code());
    } catch (const InterpreterStopped &e) {
        return record(PYB_ERROR_STOPPED, "", e.what());
    } catch (const Cancelled &e) {
        return record(PYB_ERROR_CANCELLED, "", e.what());
    } catch (const WouldDeadlock &e) {
        return record(PYB_ERROR_DEADLOCK, "", e.what());
    } catch (const KindError &e) {
        return record(PYB_ERROR_KIND, "", e.what());
    } catch (const Error &e) {  // ArgumentError, and values or tensors that cannot cross
        return record(PYB_ERROR_ARGUMENT, "", e.what());
    } catch (const std::bad_alloc &) {
        return record(PYB_ERROR_MEMORY, "", "pybridge: out of memory");
    } catch (const std::exception &e) {  // a host function's own exception, ...
        return record(PYB_ERROR_HOST, "", e.what());
    } catch (...) {
        return record(PYB_ERROR_HOST, "", "pybridge: unknown C++ exception");
    }
}

}  // namespace pyb::c

using pyb::c::t_has_error;
using pyb::c::t_last;

extern "C" {

const pyb_error *pyb_last_error(void) { return t_has_error ? &t_last : nullptr; }
void pyb_error_clear(void) { t_has_error = false; }
pyb_status pyb_error_status(const pyb_error *e) { return e ? e->status : PYB_OK; }
const char *pyb_error_message(const pyb_error *e) { return e ? e->message.c_str() : ""; }
const char *pyb_error_type(const pyb_error *e) { return e ? e->type.c_str() : ""; }
const char *pyb_error_traceback(const pyb_error *e) { return e ? e->traceback.c_str() : ""; }
int pyb_error_exit_code(const pyb_error *e, int *code) {
    if (!e || !e->has_exit_code) return 0;
    if (code) *code = e->exit_code;
    return 1;
}

#define PYB_STRINGIFY2(x) #x
#define PYB_STRINGIFY(x) PYB_STRINGIFY2(x)
const char *pyb_version(void) {
    return PYB_STRINGIFY(PYB_VERSION_MAJOR) "." PYB_STRINGIFY(PYB_VERSION_MINOR) "." PYB_STRINGIFY(PYB_VERSION_PATCH);
}
int pyb_abi_version(void) { return PYB_ABI_VERSION; }

}  // extern "C"
