// bench/model: a real model driven from C++ through pybridge, beside plain Python, in one run.
//
// Work: all-MiniLM-L6-v2 embeddings (pybridge.models.SentenceEncoder, mean-pooled, float32
// 384 per sentence) of 1,000 sentences in batches of 32.
//   pybridge: the host keeps the sentences; per batch it calls encoder.encode(batch) through
//             the bridge (the list of str converted in, the (32, 384) embeddings back as a
//             zero-copy host view) and reads the view;
//   plain Python: a python process of the same environment runs the same loop over the
//             same sentences (same helper, same batch size, same torch thread count),
//             timing itself; it waits on a pipe while the host runs, and the other way round.
// Samples alternate (pybridge, plain, pybridge, ...): 5 each after one warm-up of each;
// median and min..max. Model loading is outside the timing on both sides.
#include <bridge/pybridge.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_report.hpp"
#include "sentence_similarity/similarity.hpp"

namespace {

std::vector<std::string> thousand_sentences() {
    const std::vector<std::string> base = similarity::read_sentences(similarity::default_sentences_path());
    std::vector<std::string> out;
    for (size_t i = 0; out.size() < 1000; ++i)
        out.push_back(base[i % base.size()] + (i < base.size() ? "" : " (" + std::to_string(i / base.size()) + ")"));
    return out;
}

}  // namespace

int main() {
    pyb::Bridge py;
    const std::vector<std::string> sentences = thousand_sentences();
    constexpr size_t kBatch = 32;
    py.exec("import torch\nfrom pybridge import models\n_encoder = models.load_sentence_encoder()\n");
    const pyb::ObjectRef encoder = py.eval_ref("_encoder");
    const long threads = py.eval("torch.get_num_threads()").as_int();

    // The plain-Python side: a child process that answers each line on stdin with the
    // seconds one pass took.
    std::vector<pyb::Value> all;
    for (const auto &s : sentences) all.emplace_back(s);
    py.call(py.eval_ref(
                "lambda sentences, threads: globals().__setitem__('_child', __import__('subprocess').Popen("
                "[__import__('sys').executable, '-c', '''\n"
                "import json, sys, time, torch\n"
                "from pybridge import models\n"
                "sentences, threads = json.loads(sys.stdin.readline())\n"
                "torch.set_num_threads(threads)\n"
                "encoder = models.load_sentence_encoder()\n"
                "print('ready', flush=True)\n"
                "for _ in sys.stdin:\n"
                "    t0 = time.perf_counter()\n"
                "    for i in range(0, len(sentences), 32):\n"
                "        e = encoder.encode(sentences[i:i + 32])\n"
                "        e[-1, -1].item()  # read the result, as the host does\n"
                "    print(time.perf_counter() - t0, flush=True)\n"
                "'''], stdin=__import__('subprocess').PIPE, stdout=__import__('subprocess').PIPE, text=True,"
                " env=dict(__import__('os').environ, PYTHONPATH=__import__('os').path.dirname("
                "__import__('pybridge').__path__[0]))))"),
            {pyb::Value(pyb::List{all}), threads});
    py.exec(
        "import json\n"
        "def _plain_sample():\n"
        "    _child.stdin.write('go\\n'); _child.stdin.flush()\n"
        "    return float(_child.stdout.readline())\n");
    py.call(py.eval_ref("lambda s, t: (_child.stdin.write(json.dumps([s, t]) + '\\n'), _child.stdin.flush(), "
                        "_child.stdout.readline())"),
            {pyb::Value(pyb::List{all}), threads});
    const pyb::ObjectRef plain_sample = py.eval_ref("_plain_sample");

    auto bridged_sample = [&] {
        const auto t0 = std::chrono::steady_clock::now();
        float sink = 0;
        for (size_t i = 0; i < sentences.size(); i += kBatch) {
            std::vector<pyb::Value> batch;
            for (size_t j = i; j < std::min(i + kBatch, sentences.size()); ++j) batch.emplace_back(sentences[j]);
            const pyb::Tensor e = py.call_method(encoder, "encode", {pyb::Value(pyb::List{std::move(batch)})}).as_tensor();
            sink += e.data_as<float>()[e.numel() - 1];  // read the result
        }
        if (sink == 12345.f) std::printf(" ");
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    bridged_sample();  // warm-up, both sides
    py.call(plain_sample);
    std::vector<double> bridged, plain;
    for (int s = 0; s < 5; ++s) {
        bridged.push_back(bridged_sample());
        plain.push_back(py.call(plain_sample).as_float());
    }
    py.exec("_child.stdin.close(); _child.wait()\n");
    const bench::Stats b = bench::summary(bridged), p = bench::summary(plain);

    std::printf("Model: all-MiniLM-L6-v2 embeddings of 1,000 sentences, batches of 32, %ld torch threads "
                "(median of 5; min..max)\n", threads);
    std::printf("  %-40s %8.3f s  (%.3f..%.3f)\n", "pybridge, driven from C++", b.median, b.min, b.max);
    std::printf("  %-40s %8.3f s  (%.3f..%.3f)\n", "plain Python, same loop", p.median, p.min, p.max);
    std::printf("  %-40s %8.1f sentences/s\n", "pybridge throughput", 1000.0 / b.median);
    bench::Report report;
    report.result("model.minilm_1000.pybridge", b.median, "s");
    report.result("model.minilm_1000.plain_python", p.median, "s");
    report.ratio("model.minilm_1000.pybridge_over_plain_python", b.median / p.median, "<=", 1.02);
    py.stop();
    report.print();
    return 0;
}
