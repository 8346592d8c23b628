/* Built against an installed pybridge (tests/consumer/run.sh): starts Python, asks it 6 * 7. */
#include <pybridge.h>

#include <stdio.h>

int main(void) {
    if (pyb_abi_version() != PYB_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: header %d, library %d\n", PYB_ABI_VERSION, pyb_abi_version());
        return 1;
    }
    pyb_interpreter *py = NULL;
    pyb_value *r = NULL;
    int64_t v = 0;
    if (pyb_start(NULL, &py) != PYB_OK || pyb_eval(py, "6 * 7", &r) != PYB_OK || pyb_value_int(r, &v) != PYB_OK) {
        fprintf(stderr, "error: %s\n", pyb_error_message(pyb_last_error()));
        return 1;
    }
    printf("pybridge %s: 6 * 7 = %lld\n", pyb_version(), (long long)v);
    pyb_value_free(r);
    pyb_interpreter_free(py);
    return v == 42 ? 0 : 1;
}
