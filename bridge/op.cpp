#include "op.hpp"

#include <Python.h>

#include "../gil/call_slot.hpp"
#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"
#include "../marshal/py_ref.hpp"
#include "../marshal/tensor_python.hpp"
#include "vectorcall.hpp"

namespace pyb {
namespace {

thread_local GradMode t_grad_mode = GradMode::Inherit;

// pybridge.<module>.<name>, looked up once (a strong reference kept for the process).
PyObject *helper(Python py, PyObject *&slot, const char *module, const char *name) {
    if (!slot) {
        PyRef m(py, PyImport_ImportModule(module));
        slot = PyRef(py, PyObject_GetAttrString(m.p, name)).release();
    }
    return slot;
}
PyObject *g_resolve_symbol = nullptr, *g_call_in_mode = nullptr, *g_resolve = nullptr, *g_define = nullptr;

// An Op argument: the value table, then Symbols resolved to torch dtypes/devices.
PyObject *op_argument(Python py, const Value &v) {
    PyObject *o = to_python(py, v);
    if (v.kind() != Value::Kind::Symbol) return o;
    PyRef symbol(o);
    return PyRef(py, PyObject_CallOneArg(helper(py, g_resolve_symbol, "pybridge.symbols", "resolve"), o)).release();
}

PyObject *call_new(Python py, const ObjectRef &fn, detail::ArgSpan args, const Kwargs &kwargs, GradMode mode) {
    PyObject *callable = detail::checked(py, fn);
    if (mode == GradMode::Inherit) return detail::vectorcall(py, callable, args, kwargs, {}, &op_argument);
    PyRef number(py, PyLong_FromLong(static_cast<long>(mode)));  // ops.py: ENABLED 1, DISABLED 2, INFERENCE 3
    return detail::vectorcall(py, helper(py, g_call_in_mode, "pybridge.ops", "call_in_mode"), args, kwargs,
                              {number.p, callable}, &op_argument);
}

}  // namespace

GradScope::GradScope(GradMode mode) noexcept : previous_(t_grad_mode) { t_grad_mode = mode; }
GradScope::~GradScope() { t_grad_mode = previous_; }
GradMode GradScope::current() noexcept { return t_grad_mode; }

Op::Op(Bridge &bridge, ObjectRef callable, std::string name)
    : bridge_(&bridge), fn_(std::move(callable)), name_(std::move(name)) {}

Op Op::resolve(Bridge &bridge, std::string_view dotted) {
    ObjectRef fn = bridge.interpreter().call([&](Python py) {
        PyRef name(py, detail::new_str(py, dotted));
        return ObjectRef::steal(py, PyRef(py, PyObject_CallOneArg(helper(py, g_resolve, "pybridge.ops", "resolve"),
                                                                  name.p)).release());
    });
    return Op(bridge, std::move(fn), std::string(dotted));
}

Value Op::operator()(const Args &args, const Kwargs &kwargs) const { return call(args.data(), args.size(), kwargs); }
Value Op::operator()(std::initializer_list<Value> args, const Kwargs &kwargs) const {
    return call(args.begin(), args.size(), kwargs);
}
ObjectRef Op::call_ref(const Args &args, const Kwargs &kwargs) const {
    return call_kept(args.data(), args.size(), kwargs);
}
ObjectRef Op::call_ref(std::initializer_list<Value> args, const Kwargs &kwargs) const {
    return call_kept(args.begin(), args.size(), kwargs);
}

namespace {
// The lambdas below capture by value (36 bytes, trivially copyable): they travel in the
// calling thread's slot line itself, so the interpreter thread reads no host stack line
// but the arguments' (and none for kwargs when there are none). A function-local static:
// usable from other files' static constructors and destructors.
const Kwargs *no_kwargs() {
    static const Kwargs none;
    return &none;
}
}  // namespace

Value Op::call(const Value *argv, size_t n, const Kwargs &kwargs) const {
    const detail::ArgSpan args(argv, n);
    const GradMode mode = t_grad_mode;  // the calling host thread's scope
    const Kwargs *kw = kwargs.empty() ? no_kwargs() : &kwargs;
    const auto run = [this, args, kw, mode](Python py) {
        PyRef result(py, call_new(py, fn_, args, *kw, mode));
        // torch returns tuples of tensors as named tuples (torch.return_types.*): a Tuple.
        if (PyTuple_Check(result.p) && !PyTuple_CheckExact(result.p)) result.reset(PySequence_Tuple(result.p));
        if (!result.p) throw_python_error(py);
        return from_python(py, result.p);
    };
    static_assert(detail::kTravelsInSlot<decltype(run)>);
    return bridge_->interpreter().call(run);
}

ObjectRef Op::call_kept(const Value *argv, size_t n, const Kwargs &kwargs) const {
    const detail::ArgSpan args(argv, n);
    const GradMode mode = t_grad_mode;
    const Kwargs *kw = kwargs.empty() ? no_kwargs() : &kwargs;
    const auto run = [this, args, kw, mode](Python py) { return ObjectRef::steal(py, call_new(py, fn_, args, *kw, mode)); };
    static_assert(detail::kTravelsInSlot<decltype(run)>);
    return bridge_->interpreter().call(run);
}

Op define_op(Bridge &bridge, std::string_view qualname, std::string_view source, DefineOpOptions options) {
    ObjectRef op = bridge.interpreter().call([&](Python py) {
        PyRef name(py, detail::new_str(py, qualname));
        PyRef text(py, detail::new_str(py, source));
        PyRef args(py, PyTuple_Pack(2, name.p, text.p));
        PyRef kwargs(py, Py_BuildValue("{s:O}", "compile", options.compile ? Py_True : Py_False));
        return ObjectRef::steal(
            py, PyRef(py, PyObject_Call(helper(py, g_define, "pybridge.ops", "define_op"), args.p, kwargs.p)).release());
    });
    return Op(bridge, std::move(op), std::string(qualname));
}

ObjectRef to_torch(Bridge &bridge, const Tensor &t, bool requires_grad) {
    return bridge.interpreter().call([&](Python py) {
        // A leaf that requires grad is a new tensor: the host tensor's shared view stays plain.
        PyRef tensor(py, tensor_to_python(py, t, /*reuse_view=*/!requires_grad));
        if (requires_grad) PyRef(py, PyObject_CallMethod(tensor.p, "requires_grad_", "O", Py_True));
        return ObjectRef::steal(py, tensor.release());
    });
}

Tensor to_host(Bridge &bridge, const ObjectRef &tensor) {
    return bridge.interpreter().call([&](Python py) {
        PyObject *obj = detail::checked(py, tensor);
        // Checked here, where the object is the caller's: the internal paths check first.
        if (!is_torch_tensor(py, obj)) throw Error(std::string("pybridge: expected a torch.Tensor, got ") + Py_TYPE(obj)->tp_name);
        return tensor_from_python(py, obj);
    });
}

}  // namespace pyb
