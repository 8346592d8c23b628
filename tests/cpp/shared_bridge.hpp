// The one Bridge the test suite shares: CPython starts once per process.
#pragma once

#include <bridge/pybridge.hpp>

namespace pyb_test {

pyb::Bridge &bridge();

}  // namespace pyb_test
