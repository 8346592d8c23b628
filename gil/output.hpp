// pybridge/gil/output.hpp — internal: Python's output routed to the host (see
// InterpreterConfig::route_python_output and output_sink in config.hpp; the Python half is
// py/pybridge/output.py).
//
// Thread contract: install() and uninstall() on the interpreter thread with the GIL held.
#pragma once

#include "config.hpp"
#include "python_token.hpp"

namespace pyb::detail::output {

// Replaces sys.stdout/sys.stderr (and with a sink, hooks logging and warnings). Does
// nothing when pybridge's Python package cannot be imported (add_pybridge_package_dir off
// and not installed). Throws PythonError if installing fails otherwise.
void install(Python, const InterpreterConfig &config);

// From now on the sink is not called: routed streams write to the C streams.
void uninstall() noexcept;

}  // namespace pyb::detail::output
