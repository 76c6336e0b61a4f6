#!/usr/bin/env bash
# Installs what tests/demos needs on a fresh Debian 12 machine (run as root; idempotent).
#
# - a JDK (java + javac: javac compiles the compile-only LiteRT API stubs the Kotlin tests use),
# - Debian junit4 and libhamcrest-java (jars under /usr/share/java),
# - npm, then JetBrains' Kotlin compiler from npm into <repo>/.tools/ (gitignored). Debian's own
#   `kotlin` package is 1.3 and rejects modern syntax, so it is not used.
# When everything is already there it only checks and returns (well under a second).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$repo/.tools"
kotlin_version="2.4.20"

apt_packages=()
command -v javac >/dev/null 2>&1 || apt_packages+=(default-jdk-headless)
[ -f /usr/share/java/junit4.jar ] || apt_packages+=(junit4)
[ -f /usr/share/java/hamcrest.jar ] || apt_packages+=(libhamcrest-java)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
fi

installed=""
pkg_json="$tools/node_modules/kotlin-compiler/package.json"
if [ -f "$pkg_json" ]; then
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg_json" | head -n 1)
fi
if [ "$installed" != "$kotlin_version" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    "kotlin-compiler@$kotlin_version"
fi
kotlinc=$(find "$tools/node_modules/kotlin-compiler" -path '*/bin/kotlinc' -type f | head -n 1)
[ -n "$kotlinc" ] || { echo "install_demo_tools: no bin/kotlinc under $tools" >&2; exit 1; }
chmod +x "$kotlinc" "$(dirname "$kotlinc")"/* 2>/dev/null || true
echo "install_demo_tools: kotlinc at $kotlinc"
