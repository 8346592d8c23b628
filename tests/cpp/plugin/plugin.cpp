// A plugin built on pybridge, for tests/cpp/plugin/dlopen_host.c: a host that knows nothing
// of Python loads it with dlopen(RTLD_LOCAL) and calls one C function.
#include <bridge/pybridge.hpp>

#include <cstdio>

extern "C" __attribute__((visibility("default"))) int pybridge_plugin_run(char *out, int size) {
    try {
        pyb::Bridge py;
        // numpy and _decimal are C extension modules: they need libpython's symbols.
        const std::string r = py.eval("'numpy %d, decimal %s' % (__import__('numpy').arange(4).sum(), "
                                      "__import__('decimal').Decimal('1.1') + __import__('decimal').Decimal('2.2'))")
                                  .as_str();
        py.stop();
        std::snprintf(out, static_cast<size_t>(size), "%s", r.c_str());
        return 0;
    } catch (const std::exception &e) {
        std::snprintf(out, static_cast<size_t>(size), "%s", e.what());
        return 1;
    }
}
