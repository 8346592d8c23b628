// The C ABI's interpreter, objects, calls, futures, ops and grad modes.
#include <chrono>
#include <vector>

#include "handles.hpp"

namespace pyb::c {

void collect_args(const pyb_value *const *args, size_t nargs, const char *const *kwnames,
                  const pyb_value *const *kwargs, size_t nkwargs, Args &pos, Kwargs &kw) {
    if (nargs > PYB_MAX_ARGS)
        throw ArgumentError("pybridge: nargs is " + std::to_string(nargs) + ", more than PYB_MAX_ARGS (" +
                            std::to_string(PYB_MAX_ARGS) + ")");
    if (nkwargs > PYB_MAX_KWARGS)
        throw ArgumentError("pybridge: nkwargs is " + std::to_string(nkwargs) + ", more than PYB_MAX_KWARGS (" +
                            std::to_string(PYB_MAX_KWARGS) + ")");
    if (nargs && !args) throw ArgumentError("pybridge: args is NULL but nargs is " + std::to_string(nargs));
    if (nkwargs && (!kwnames || !kwargs))
        throw ArgumentError("pybridge: kwnames/kwargs is NULL but nkwargs is " + std::to_string(nkwargs));
    pos.reserve(nargs);
    for (size_t i = 0; i < nargs; ++i) {
        if (!args[i]) throw ArgumentError("pybridge: positional argument " + std::to_string(i) + " is NULL");
        pos.push_back(args[i]->v);
    }
    kw.reserve(nkwargs);
    for (size_t i = 0; i < nkwargs; ++i) {
        if (!kwnames[i] || !kwargs[i]) throw ArgumentError("pybridge: keyword argument " + std::to_string(i) + " is NULL");
        kw.emplace_back(kwnames[i], kwargs[i]->v);
    }
}

namespace {

Bridge &bridge_of(pyb_interpreter *interp) {
    pyb_interpreter &i = need(interp, "interpreter");
    if (i.freed.load(std::memory_order_acquire))
        throw InterpreterStopped("pybridge: the interpreter was freed (pyb_interpreter_free)");
    return *i.bridge;
}

// Freed interpreters, kept for the process (see handles.hpp); reachable, so leak checkers
// do not report them.
std::mutex g_retired_mutex;
std::vector<pyb_interpreter *> *g_retired = nullptr;
const ObjectRef &object_of(const pyb_object *o) {
    const ObjectRef &ref = need(o, "object").o;
    if (!ref) throw ArgumentError("pybridge: empty object handle");
    return ref;
}

thread_local std::vector<GradScope *> t_scopes;  // pyb_grad_mode_push's, innermost last

}  // namespace
}  // namespace pyb::c

using namespace pyb::c;

extern "C" {

pyb_status pyb_start(const char *python_executable, pyb_interpreter **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        pyb::InterpreterConfig config = pyb::config_from_environment();
        if (python_executable) config.python_executable = python_executable;
        auto interp = std::make_unique<pyb_interpreter>();
        try {
            interp->bridge = std::make_unique<pyb::Bridge>(std::move(config));
        } catch (const pyb::InterpreterStopped &) {
            throw;
        } catch (const pyb::PythonError &) {
            throw;
        } catch (const pyb::Error &e) {  // could not start: a host-side reason
            throw std::runtime_error(e.what());
        }
        *out = interp.release();
    });
}

pyb_status pyb_stop(pyb_interpreter *interp) {
    return guard([&] {
        pyb::Bridge &bridge = bridge_of(interp);
        if (pyb::Interpreter::on_interpreter_thread())
            throw pyb::WouldDeadlock("pybridge: pyb_stop called from inside a call would wait for itself");
        bridge.stop();
    });
}

void pyb_interpreter_free(pyb_interpreter *interp) {
    if (!interp) return;
    if (pyb::Interpreter::on_interpreter_thread()) {
        fail(PYB_ERROR_DEADLOCK, "pybridge: pyb_interpreter_free called from inside a call; the handle is leaked");
        return;
    }
    if (interp->freed.exchange(true, std::memory_order_acq_rel)) {
        fail(PYB_ERROR_STOPPED, "pybridge: pyb_interpreter_free called twice on the same interpreter");
        return;
    }
    guard([&] { interp->bridge->stop(); });
    std::lock_guard<std::mutex> lock(g_retired_mutex);
    if (!g_retired) g_retired = new std::vector<pyb_interpreter *>;
    try {
        g_retired->push_back(interp);
    } catch (...) {
        // Out of memory: the handle is left reachable from nowhere, never freed.
    }
}

void pyb_object_free(pyb_object *o) { delete o; }

pyb_status pyb_import(pyb_interpreter *interp, const char *module, pyb_object **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        *out = new pyb_object{bridge_of(interp).import(&need(module, "module name"))};
    });
}

pyb_status pyb_getattr(pyb_interpreter *interp, const pyb_object *object, const char *name, pyb_value **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        *out = new pyb_value{bridge_of(interp).getattr(object_of(object), &need(name, "name"))};
    });
}

pyb_status pyb_getattr_object(pyb_interpreter *interp, const pyb_object *object, const char *name, pyb_object **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        *out = new pyb_object{bridge_of(interp).getattr_ref(object_of(object), &need(name, "name"))};
    });
}

pyb_status pyb_setattr(pyb_interpreter *interp, const pyb_object *object, const char *name, const pyb_value *value) {
    return guard([&] { bridge_of(interp).setattr(object_of(object), &need(name, "name"), need(value, "value").v); });
}

pyb_status pyb_call(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args, size_t nargs,
                    const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs, pyb_value **out) {
    return guard([&] {
        if (out) *out = nullptr;
        pyb::Args pos;
        pyb::Kwargs kw;
        collect_args(args, nargs, kwnames, kwargs, nkwargs, pos, kw);
        pyb::Value r = bridge_of(interp).call(object_of(callable), pos, kw);
        if (out) *out = new pyb_value{std::move(r)};
    });
}

pyb_status pyb_call_object(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args,
                           size_t nargs, const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs,
                           pyb_object **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        pyb::Args pos;
        pyb::Kwargs kw;
        collect_args(args, nargs, kwnames, kwargs, nkwargs, pos, kw);
        *out = new pyb_object{bridge_of(interp).call_ref(object_of(callable), pos, kw)};
    });
}

pyb_status pyb_eval(pyb_interpreter *interp, const char *expression, pyb_value **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        *out = new pyb_value{bridge_of(interp).eval(&need(expression, "expression"))};
    });
}

pyb_status pyb_exec(pyb_interpreter *interp, const char *source) {
    return guard([&] { bridge_of(interp).exec(&need(source, "source")); });
}

pyb_status pyb_call_async(pyb_interpreter *interp, const pyb_object *callable, const pyb_value *const *args,
                          size_t nargs, const char *const *kwnames, const pyb_value *const *kwargs, size_t nkwargs,
                          pyb_future **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        pyb::Args pos;
        pyb::Kwargs kw;
        collect_args(args, nargs, kwnames, kwargs, nkwargs, pos, kw);
        pyb::Bridge &b = bridge_of(interp);
        auto future = std::make_unique<pyb_future>();
        future->completion = std::make_shared<Completion>();
        future->f = b.interpreter().submit(
            [fn = object_of(callable), pos = std::move(pos), kw = std::move(kw), &b,
             done = CompletionGuard(future->completion)](pyb::Python) {
                (void)done;  // fires when this callable is destroyed: after the call, or when dropped
                return b.call(fn, pos, kw);
            });
        *out = future.release();
    });
}

pyb_status pyb_future_wait(pyb_future *future, pyb_value **out) {
    return guard([&] {
        if (out) *out = nullptr;
        pyb_future &f = need(future, "future");
        if (!f.f.valid()) throw ArgumentError("pybridge: this future's result was already taken");
        f.taken = true;
        pyb::Value r = f.f.get();
        if (out) *out = new pyb_value{std::move(r)};
    });
}

pyb_status pyb_future_wait_for(pyb_future *future, double seconds, pyb_value **out) {
    bool timed_out = false;
    const pyb_status status = guard([&] {
        if (out) *out = nullptr;
        pyb_future &f = need(future, "future");
        if (!f.f.valid()) throw ArgumentError("pybridge: this future's result was already taken");
        if (!(seconds >= 0)) throw ArgumentError("pybridge: seconds must be >= 0");
        if (!f.f.wait_for(std::chrono::duration<double>(seconds))) {
            timed_out = true;
            return;
        }
        f.taken = true;
        pyb::Value r = f.f.get();
        if (out) *out = new pyb_value{std::move(r)};
    });
    if (status == PYB_OK && timed_out) return fail(PYB_ERROR_TIMEOUT, "pybridge: the call has not finished yet");
    return status;
}

int pyb_future_poll(const pyb_future *future) {
    return future && (future->taken || (future->f.valid() && future->f.ready())) ? 1 : 0;
}

pyb_status pyb_future_cancel(pyb_future *future, int *was_queued) {
    return guard([&] {
        pyb_future &f = need(future, "future");
        if (!f.f.valid()) throw ArgumentError("pybridge: this future's result was already taken");
        const pyb::CancelResult r = f.f.cancel();
        if (was_queued) *was_queued = r == pyb::CancelResult::Cancelled ? 1 : 0;
    });
}

pyb_status pyb_future_on_complete(pyb_future *future, void (*callback)(void *), void *user) {
    return guard([&] {
        pyb_future &f = need(future, "future");
        need(callback, "callback");
        Completion &c = *f.completion;
        bool now = false;
        {
            std::lock_guard<std::mutex> lock(c.mutex);
            if (c.registered) throw ArgumentError("pybridge: this future already has a completion callback");
            c.registered = true;
            if (c.done) now = true;
            else {
                c.callback = callback;
                c.user = user;
            }
        }
        if (now) callback(user);
    });
}

void pyb_future_free(pyb_future *future) { delete future; }

pyb_status pyb_op_resolve(pyb_interpreter *interp, const char *dotted, pyb_op **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        *out = new pyb_op{pyb::Op::resolve(bridge_of(interp), &need(dotted, "dotted name"))};
    });
}

pyb_status pyb_op_call(const pyb_op *op, const pyb_value *const *args, size_t nargs, const char *const *kwnames,
                       const pyb_value *const *kwargs, size_t nkwargs, pyb_value **out) {
    return guard([&] {
        if (out) *out = nullptr;
        const pyb::Op &o = need(op, "op").op;
        pyb::Args pos;
        pyb::Kwargs kw;
        collect_args(args, nargs, kwnames, kwargs, nkwargs, pos, kw);
        pyb::Value r = o(pos, kw);
        if (out) *out = new pyb_value{std::move(r)};
    });
}

pyb_status pyb_op_call_object(const pyb_op *op, const pyb_value *const *args, size_t nargs, const char *const *kwnames,
                              const pyb_value *const *kwargs, size_t nkwargs, pyb_object **out) {
    return guard([&] {
        need(out, "out") = nullptr;
        const pyb::Op &o = need(op, "op").op;
        pyb::Args pos;
        pyb::Kwargs kw;
        collect_args(args, nargs, kwnames, kwargs, nkwargs, pos, kw);
        *out = new pyb_object{o.call_ref(pos, kw)};
    });
}

void pyb_op_free(pyb_op *op) { delete op; }

pyb_status pyb_grad_mode_push(pyb_grad_mode mode) {
    return guard([&] {
        if (mode < PYB_GRAD_INHERIT || mode > PYB_GRAD_INFERENCE)
            throw ArgumentError("pybridge: unknown grad mode " + std::to_string(static_cast<int>(mode)));
        t_scopes.push_back(new pyb::GradScope(static_cast<pyb::GradMode>(mode)));
    });
}

pyb_status pyb_grad_mode_pop(void) {
    return guard([&] {
        if (t_scopes.empty()) throw ArgumentError("pybridge: pyb_grad_mode_pop without a matching push on this thread");
        delete t_scopes.back();
        t_scopes.pop_back();
    });
}

}  // extern "C"
