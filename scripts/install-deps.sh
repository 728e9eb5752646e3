#!/usr/bin/env bash
# Installs what podpath needs on a Debian machine, as root: the Debian packages it drives,
# kubectl (Debian's kubernetes-client when the machine has none), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get installs packages)" >&2
  exit 1
fi
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=18)?0:1)'; then
  echo "install-deps: Node.js >= 20.18 with npm is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Debian 12's nodejs package is 18.x; install Node 20 or newer from nodejs.org or NodeSource." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates curl util-linux iproute2 iptables nftables conntrack containernetworking-plugins dnsutils dnsperf haproxy wrk ipvsadm ipset gcc libc6-dev libnftables-dev \
  busybox tcpdump iputils-arping >/dev/null
# Other people's Kubernetes clients the tests drive against the API server: Kubernetes' Python
# client (run with Debian's /usr/bin/python3) and Ruby's kubeclient.
apt-get install -y -qq --no-install-recommends python3 python3-kubernetes ruby-kubeclient >/dev/null
# The browser `podpath ui`'s tests drive (through playwright-core, which downloads none).
apt-get install -y -qq --no-install-recommends chromium >/dev/null
# nginx is the Ingress controller's data plane, run by podpath inside the lab; a fresh install
# must not start (or enable) Debian's nginx service on the host.
if ! dpkg -s nginx libnginx-mod-http-lua >/dev/null 2>&1; then
  fresh_nginx=$(command -v nginx >/dev/null || echo yes)
  policy_rc=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_rc=yes
  fi
  apt-get install -y -qq --no-install-recommends nginx libnginx-mod-http-lua >/dev/null
  [ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d
  if [ -n "$fresh_nginx" ] && command -v systemctl >/dev/null; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi
# BIRD 2 is the BGP daemon of --cni-backend bgp, run by podpath inside each node's namespace; a
# fresh install must not start (or enable) Debian's bird service on the host.
if ! dpkg -s bird2 >/dev/null 2>&1; then
  policy_rc=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_rc=yes
  fi
  apt-get install -y -qq --no-install-recommends bird2 >/dev/null
  [ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null; then systemctl disable --now bird >/dev/null 2>&1 || true; fi
fi
if ! command -v kubectl >/dev/null; then
  apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
# Debian's older kubectl, unpacked beside the project (not installed), so the tests can check
# that podpath works with it too even where another kubectl owns /usr/bin/kubectl.
if [ ! -x .cache/kubernetes-client/usr/bin/kubectl ]; then
  mkdir -p .cache/kubernetes-client
  (cd .cache && apt-get download -qq kubernetes-client >/dev/null 2>&1 && dpkg -x kubernetes-client_*.deb kubernetes-client && rm -f kubernetes-client_*.deb) ||
    echo "install-deps: could not fetch Debian's kubernetes-client; its compatibility test will be skipped" >&2
fi
npm ci --no-audit --no-fund
