#!/usr/bin/env bash
# examples/c_host (plain C, the C ABI) prints exactly what examples/sentence_similarity (C++)
# prints for the same sentences.
set -euo pipefail
build=$1
export HF_HUB_OFFLINE=1
diff <("$build/examples/c_host" --top 3) <("$build/examples/sentence_similarity" --top 3)
echo "c_host output equals sentence_similarity's ($("$build/examples/c_host" --top 1 | grep -vc '^    ') sentences)"
