// A host whose output interleaves with Python's (tests/cpp/output/test_output.cpp runs it
// through a pipe and on a pseudo-terminal). With --tqdm it also runs a tqdm loop.
#include <bridge/pybridge.hpp>

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
    pyb::Bridge py;  // default output routing: into the C streams
    std::printf("host 1\n");
    py.exec("print('python 2')");
    std::printf("host 3\n");
    py.exec("import sys\nsys.stdout.write('python 4\\n')\nprint('tty' if sys.stderr.isatty() else 'notty', file=sys.stderr)");
    std::printf("host 5\n");
    if (argc > 1 && std::strcmp(argv[1], "--tqdm") == 0)
        py.exec("from tqdm import tqdm\nfor _ in tqdm(range(40), mininterval=0, desc='loop'):\n    pass\n");
    py.stop();
    return 0;
}
