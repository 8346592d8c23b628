/* c_host [FILE] [--top K]
 *
 * The sentence-similarity job of examples/sentence_similarity, written in plain C99 against
 * pybridge's C ABI (bridge/pybridge.h) — the way Simple's python_bridge module binds it.
 * Reads one sentence per line (default: the shipped examples/data/sentences.txt), embeds
 * them with all-MiniLM-L6-v2 in the embedded Python, takes the embedding matrix back as a
 * DLPack tensor without a copy, and prints each sentence's K nearest other sentences by
 * cosine similarity, computed here. Same output as `sentence_similarity FILE --top K`. */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <pybridge.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PYBRIDGE_EXAMPLES_DATA_DIR
#define PYBRIDGE_EXAMPLES_DATA_DIR "examples/data"
#endif

static int fail_with(const char *what) {
    const pyb_error *e = pyb_last_error();
    if (e && *pyb_error_type(e))
        fprintf(stderr, "c_host: error: %s: %s: %s\n", what, pyb_error_type(e), pyb_error_message(e));
    else
        fprintf(stderr, "c_host: error: %s: %s\n", what, e ? pyb_error_message(e) : "unknown");
    return 1;
}

/* Non-empty lines of `path`, trimmed (a UTF-8 BOM and CR line ends dropped), any length;
 * NULL with errno set on a read error. */
static char **read_sentences(const char *path, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char **lines = NULL, *line = NULL;
    size_t n = 0, cap = 0;
    ssize_t got;
    int first = 1;
    while ((got = getline(&line, &cap, f)) != -1) {
        char *s = line;
        size_t len = (size_t)got;
        if (first && len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) {
            s += 3;
            len -= 3;
        }
        first = 0;
        while (len && strchr(" \t\r\n", s[len - 1])) s[--len] = '\0';
        while (len && (*s == ' ' || *s == '\t')) ++s, --len;
        if (!len) continue;
        lines = realloc(lines, (n + 1) * sizeof *lines);
        lines[n] = malloc(len + 1);
        memcpy(lines[n], s, len + 1);
        ++n;
    }
    free(line);
    if (ferror(f)) { /* e.g. EISDIR */
        const int error = errno;
        for (size_t i = 0; i < n; ++i) free(lines[i]);
        free(lines);
        fclose(f);
        errno = error;
        return NULL;
    }
    fclose(f);
    *count = n;
    return lines ? lines : calloc(1, sizeof *lines);
}

typedef struct {
    long index;
    double score;
} Neighbour;

static int by_score(const void *a, const void *b) {
    const Neighbour *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int main(int argc, char **argv) {
    const char *path = PYBRIDGE_EXAMPLES_DATA_DIR "/sentences.txt";
    long top = 3;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            top = strtol(argv[++i], NULL, 10);
            if (top < 1) {
                fprintf(stderr, "c_host: error: --top needs a positive integer\n");
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: c_host [FILE] [--top K]\n");
            return 2;
        } else {
            path = argv[i];
        }
    }
    size_t n = 0;
    char **sentences = read_sentences(path, &n);
    if (!sentences) {
        fprintf(stderr, "c_host: error: cannot read '%s': %s\n", path, strerror(errno));
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "c_host: error: '%s' contains no sentences\n", path);
        return 1;
    }

    pyb_interpreter *py = NULL;
    if (pyb_start(NULL, &py) != PYB_OK) return fail_with("starting Python");
    /* encoder = pybridge.models.load_sentence_encoder(); matrix = encoder.encode(sentences) */
    pyb_object *models = NULL, *load = NULL, *encoder = NULL, *encode = NULL;
    pyb_value *list = pyb_list(), *matrix = NULL;
    for (size_t i = 0; i < n; ++i) {
        pyb_value *s = pyb_str(sentences[i], strlen(sentences[i]));
        if (!s) { /* pyb_str refuses invalid UTF-8: say which line */
            fprintf(stderr, "c_host: error: sentence %zu of '%s': %s\n", i + 1, path, pyb_error_message(pyb_last_error()));
            return 1;
        }
        if (pyb_append(list, s) != PYB_OK) return fail_with("building the sentence list");
    }
    const pyb_value *args[] = {list};
    if (pyb_import(py, "pybridge.models", &models) != PYB_OK ||
        pyb_getattr_object(py, models, "load_sentence_encoder", &load) != PYB_OK ||
        pyb_call_object(py, load, NULL, 0, NULL, NULL, 0, &encoder) != PYB_OK ||
        pyb_getattr_object(py, encoder, "encode", &encode) != PYB_OK ||
        pyb_call(py, encode, args, 1, NULL, NULL, 0, &matrix) != PYB_OK)
        return fail_with("embedding the sentences");
    DLManagedTensorVersioned *t = NULL;
    if (pyb_value_tensor(matrix, &t) != PYB_OK) return fail_with("reading the embeddings");
    const DLTensor *dl = &t->dl_tensor;
    if (dl->ndim != 2 || dl->dtype.code != kDLFloat || dl->dtype.bits != 32 || dl->shape[0] != (int64_t)n) {
        fprintf(stderr, "c_host: error: unexpected embedding matrix\n");
        return 1;
    }
    const long dim = (long)dl->shape[1];
    const int64_t s0 = dl->strides ? dl->strides[0] : dim, s1 = dl->strides ? dl->strides[1] : 1;
    const float *base = (const float *)((const char *)dl->data + dl->byte_offset);

    /* Unit rows (as the C++ example: a double norm, applied as float), then all pairs. */
    float *unit = malloc(n * (size_t)dim * sizeof *unit);
    for (size_t i = 0; i < n; ++i) {
        double sq = 0;
        for (long d = 0; d < dim; ++d) {
            const double x = base[(int64_t)i * s0 + d * s1];
            sq += x * x;
        }
        const float scale = (float)(sq > 0 ? 1.0 / sqrt(sq) : 0.0);
        for (long d = 0; d < dim; ++d) unit[i * (size_t)dim + (size_t)d] = base[(int64_t)i * s0 + d * s1] * scale;
    }
    Neighbour *scores = malloc(n * sizeof *scores);
    for (size_t i = 0; i < n; ++i) {
        size_t m = 0;
        for (size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            float dot = 0;
            for (long d = 0; d < dim; ++d) dot += unit[i * (size_t)dim + (size_t)d] * unit[j * (size_t)dim + (size_t)d];
            scores[m].index = (long)j;
            scores[m].score = (double)dot;
            ++m;
        }
        qsort(scores, m, sizeof *scores, by_score);
        printf("%s\n", sentences[i]);
        for (size_t k = 0; k < m && k < (size_t)top; ++k)
            printf("    %.4f  %s\n", scores[k].score, sentences[scores[k].index]);
    }

    free(scores);
    free(unit);
    t->deleter(t);
    pyb_value_free(matrix);
    pyb_value_free(list);
    pyb_object_free(encode);
    pyb_object_free(encoder);
    pyb_object_free(load);
    pyb_object_free(models);
    for (size_t i = 0; i < n; ++i) free(sentences[i]);
    free(sentences);
    pyb_stop(py);
    pyb_interpreter_free(py);
    return 0;
}
