#!/usr/bin/env bash
# The service under load and faults, on 127.0.0.1 only, every loop bounded in count and time:
#
#   1. 8 concurrent clients, each with its own key, 3 encrypted inferences each (the WDBC MLP
#      at test parameters), and 2 concurrent clients of the 784-500-256-10 MNIST network at
#      128-bit parameters: every answer compared with the integer evaluator's; latencies
#      (p50, p95) and the service's peak memory;
#   2. kill -9 of the service during an MNIST request and a restart on the same store: the
#      client retries by itself and gets the right answer from the key the store kept;
#   3. 1,000 malformed, mutated, oversized or unauthorized requests (`shroud client probe`):
#      all answered 4xx, and the service still answers correctly afterwards;
#   4. two replicas sharing the key store behind nginx (Debian's package, installed if
#      missing): a client registered through one is served by the other and by the proxy.
#
# MNIST_PARAMS picks the MNIST key's parameter set (default wide_128:full+light: the 128-bit
# set without its coarse bootstrapping key, a 122.8 MB upload; wide_128 is 153.5 MB and
# faster). Writes everything under target/serve-check and ends with
#   summary: key_upload_mb=M register_s=S concurrent_ok=K/N p95_s=S restart_ok=0|1
#            malformed_4xx=K/1000 replicas_ok=0|1
# (p95_s: the 95th percentile of the 24 test-parameter inferences under load).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${DIR:-target/serve-check}
MNIST_PARAMS=${MNIST_PARAMS:-wide_128:full+light}
TEST_CLIENTS=8
TEST_INFERS=3
MNIST_CLIENTS=2
PROBES=1000
FIX=crates/nn/tests/fixtures
WDBC=datasets/breast-cancer/wdbc.csv

rm -rf "$DIR"
mkdir -p "$DIR"
cargo build --release -p shroud-cli >&2
shroud="$DIR/shroud"
cp target/release/shroud "$shroud"
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -f "$DIR/nginx/nginx.pid" ] && kill "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a service on port $2 with store $3, logging to $DIR/$1.log; echoes its pid.
start_service() {
    "$shroud" serve --listen "127.0.0.1:$2" --store "$3" \
        --model "wdbc=$DIR/wdbc.shroud@insecure_wide_test" \
        --model "mnist=$DIR/mnist.shroud@$MNIST_PARAMS" \
        --max-body-mib 64 --quota-keys 8 >>"$DIR/$1.log" 2>&1 &
    echo $!
}

# Waits (at most 120 s) until the service on port $1 answers /health.
wait_ready() {
    for _ in $(seq 1 1200); do
        curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0
        sleep 0.1
    done
    echo "service on port $1 did not start" >&2
    return 1
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -1; }

echo "== models ==" >&2
"$shroud" compile "$FIX/wdbc_mlp_torch.onnx" --calibrate "$WDBC" --bits 6 \
    -o "$DIR/wdbc.shroud" >"$DIR/wdbc-compile.txt"
"$shroud" compile "$FIX/mnist_mlp.onnx" --calibrate datasets/mnist --calibration 5000 \
    --bits 4 --window-form -o "$DIR/mnist.shroud" >"$DIR/mnist-compile.txt"

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
STORE="$DIR/store"
SERVICE=$(start_service service "$PORT" "$STORE")
PIDS+=("$SERVICE")
wait_ready "$PORT"
client() { "$shroud" client "$@" --server "$URL"; }

echo "== 1. $TEST_CLIENTS test clients and $MNIST_CLIENTS MNIST clients at once ==" >&2
jobs_pids=()
for c in $(seq 1 "$TEST_CLIENTS"); do
    (
        client keygen --model wdbc --keys "$DIR/c$c"
        client register --client "clinic-$c" --keys "$DIR/c$c"
        client infer --model wdbc --input "$WDBC" --index $((c * TEST_INFERS)) \
            --count "$TEST_INFERS" --verify "$DIR/wdbc.shroud" --keys "$DIR/c$c"
    ) >"$DIR/c$c.txt" 2>&1 &
    jobs_pids+=($!)
done
for m in $(seq 1 "$MNIST_CLIENTS"); do
    (
        client keygen --model mnist --keys "$DIR/m$m"
        client register --client "lab-$m" --keys "$DIR/m$m"
        client infer --model mnist --input datasets/mnist --index "$m" --count 1 \
            --verify "$DIR/mnist.shroud" --keys "$DIR/m$m"
    ) >"$DIR/m$m.txt" 2>&1 &
    jobs_pids+=($!)
done
for p in "${jobs_pids[@]}"; do wait "$p" || true; done
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$SERVICE/status")

ok=0
total=0
: >"$DIR/test-latencies.txt"
: >"$DIR/mnist-latencies.txt"
for f in "$DIR"/c[0-9]*.txt "$DIR"/m[0-9]*.txt; do
    n=$(grep -c "outputs equal the integer evaluator's" "$f" || true)
    ok=$((ok + n))
    case "$f" in
        */c[0-9]*) total=$((total + TEST_INFERS)); out="$DIR/test-latencies.txt" ;;
        *) total=$((total + 1)); out="$DIR/mnist-latencies.txt" ;;
    esac
    sed -n 's/^example [0-9]*.*: class [0-9]*, \([0-9.]*\) s .*/\1/p' "$f" >>"$out"
done
percentile() { sort -g "$1" | awk -v q="$2" '{v[NR] = $1} END {i = int(q * NR + 0.999); if (i < 1) i = 1; print v[i]}'; }
p50=$(percentile "$DIR/test-latencies.txt" 0.5)
p95=$(percentile "$DIR/test-latencies.txt" 0.95)
mnist_p50=$(percentile "$DIR/mnist-latencies.txt" 0.5)
mnist_max=$(percentile "$DIR/mnist-latencies.txt" 1.0)
key_mb=$(sed -n 's/^registered key .*, \([0-9.]*\) MB) for .*/\1/p' "$DIR/m1.txt")
register_s=$(sed -n 's/^registered key .* in \([0-9.]*\) s;.*/\1/p' "$DIR/m1.txt")

echo "== 2. kill -9 during an MNIST request, restart ==" >&2
client infer --model mnist --input datasets/mnist --index 7 --count 1 \
    --verify "$DIR/mnist.shroud" --keys "$DIR/m1" >"$DIR/restart.txt" 2>&1 &
victim=$!
sleep 5
kill -9 "$SERVICE"
sleep 1
SERVICE=$(start_service service "$PORT" "$STORE")
PIDS+=("$SERVICE")
wait_ready "$PORT"
restart_ok=0
if wait "$victim" && [ "$(field exact "$DIR/restart.txt")" = "1.0000" ]; then restart_ok=1; fi

echo "== 3. $PROBES hostile requests ==" >&2
client probe --model wdbc --count "$PROBES" --oversized-mib 65 --keys "$DIR/c1" \
    >"$DIR/probe.txt" 2>&1 || true
client infer --model wdbc --input "$WDBC" --index 100 --count 1 --verify "$DIR/wdbc.shroud" \
    --keys "$DIR/c1" >"$DIR/after-probe.txt" 2>&1 || true
refused=$(field refused_4xx "$DIR/probe.txt")
[ "$(field exact "$DIR/after-probe.txt")" = "1.0000" ] || refused=0

echo "== 4. two replicas behind nginx ==" >&2
if ! command -v nginx >/dev/null; then
    (apt-get install -y nginx-light || apt-get install -y nginx) >"$DIR/apt.txt" 2>&1 ||
        (apt-get update && apt-get install -y nginx) >>"$DIR/apt.txt" 2>&1 || true
fi
replicas_ok=0
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
    PA=$(free_port)
    PB=$(free_port)
    PN=$(free_port)
    A=$(start_service replica-a "$PA" "$STORE")
    B=$(start_service replica-b "$PB" "$STORE")
    PIDS+=("$A" "$B")
    wait_ready "$PA"
    wait_ready "$PB"
    mkdir -p "$DIR/nginx/tmp"
    # nginx workers run as nobody when started by root.
    chmod 777 "$DIR/nginx/tmp"
    cat >"$DIR/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $PWD/$DIR/nginx/nginx.pid;
error_log $PWD/$DIR/nginx/error.log;
events { worker_connections 64; }
http {
    access_log $PWD/$DIR/nginx/access.log;
    client_body_temp_path $PWD/$DIR/nginx/tmp/body;
    proxy_temp_path $PWD/$DIR/nginx/tmp/proxy;
    fastcgi_temp_path $PWD/$DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $PWD/$DIR/nginx/tmp/uwsgi;
    scgi_temp_path $PWD/$DIR/nginx/tmp/scgi;
    # Keys are large and computations long: the defaults (1 MB, 60 s) refuse both.
    client_max_body_size 1100m;
    proxy_request_buffering off;
    proxy_read_timeout 900s;
    proxy_send_timeout 900s;
    upstream shroud { server 127.0.0.1:$PA; server 127.0.0.1:$PB; }
    server {
        listen 127.0.0.1:$PN;
        location / { proxy_pass http://shroud; }
    }
}
EOF
    "$NGINX" -p "$PWD/$DIR/nginx" -c "$PWD/$DIR/nginx/nginx.conf"
    {
        "$shroud" client keygen --model wdbc --keys "$DIR/r" --server "http://127.0.0.1:$PA"
        "$shroud" client register --client replica-test --keys "$DIR/r" --server "http://127.0.0.1:$PA"
        "$shroud" client infer --model wdbc --input "$WDBC" --index 50 --count 2 \
            --verify "$DIR/wdbc.shroud" --keys "$DIR/r" --server "http://127.0.0.1:$PB"
        "$shroud" client infer --model wdbc --input "$WDBC" --index 60 --count 4 \
            --verify "$DIR/wdbc.shroud" --keys "$DIR/r" --server "http://127.0.0.1:$PN"
    } >"$DIR/replicas.txt" 2>&1 || true
    served_b=$(grep -c "^client infer: examples=2 exact=1.0000" "$DIR/replicas.txt" || true)
    proxied=$(grep -c "^client infer: examples=4 exact=1.0000" "$DIR/replicas.txt" || true)
    both=$(grep -c '"POST /v1/models/wdbc/infer' "$DIR/nginx/access.log" || true)
    [ "$served_b" = 1 ] && [ "$proxied" = 1 ] && replicas_ok=1
    kill "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
else
    echo "nginx is not available: the replica check did not run" >&2
fi

echo
echo "service checks, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores"
printf '%-44s %s\n' "check" "result"
printf '%-44s %s\n' "MNIST key upload ($MNIST_PARAMS)" "$key_mb MB, registered in $register_s s"
printf '%-44s %s\n' "answers equal to the integer evaluator's" "$ok of $total"
printf '%-44s %s\n' "test-parameter latency under load" "p50 $p50 s, p95 $p95 s"
printf '%-44s %s\n' "MNIST latency, $MNIST_CLIENTS clients at once" "p50 $mnist_p50 s, max $mnist_max s"
printf '%-44s %s\n' "service peak memory" "$((peak_kb / 1024)) MiB"
printf '%-44s %s\n' "kill -9 during a request, restart" "$([ $restart_ok = 1 ] && echo "answer right after retries" || echo FAILED)"
printf '%-44s %s\n' "hostile requests answered 4xx" "${refused:-0} of $PROBES, correct answers after"
printf '%-44s %s\n' "two replicas behind nginx" "$([ $replicas_ok = 1 ] && echo "served by the other replica and the proxy (${both:-0} proxied)" || echo FAILED)"
echo "summary: key_upload_mb=$key_mb register_s=$register_s concurrent_ok=$ok/$total" \
    "p95_s=$p95 restart_ok=$restart_ok malformed_4xx=${refused:-0}/$PROBES replicas_ok=$replicas_ok"
