/* A C host that loads a pybridge-based plugin the way applications load plugins:
 * dlopen(RTLD_NOW | RTLD_LOCAL), so nothing the plugin brings (libpybridge, libpython) is
 * visible globally unless pybridge makes it so. Usage: dlopen_host PLUGIN.so */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: dlopen_host PLUGIN.so\n");
        return 2;
    }
    void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
        fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 1;
    }
    int (*run)(char *, int) = (int (*)(char *, int))dlsym(plugin, "pybridge_plugin_run");
    if (!run) {
        fprintf(stderr, "dlsym failed: %s\n", dlerror());
        return 1;
    }
    char out[4096];
    const int rc = run(out, (int)sizeof out);
    printf("%s\n", out);
    return rc;
}
