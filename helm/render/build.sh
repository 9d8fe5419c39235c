#!/usr/bin/env bash
# Builds the chart renderer into $1 with Debian's Go and sprig (apt: golang-go golang-github-masterminds-sprig-dev
# golang-gopkg-yaml.v3-dev): GOPATH mode, where the packaged sprig and semver are reached through v3 links.
set -euo pipefail
out=${1:?usage: build.sh OUTPUT}
here=$(cd "$(dirname "$0")" && pwd)
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/github.com/Masterminds/sprig" "$gopath/src/github.com/Masterminds/semver"
ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$gopath/src/github.com/Masterminds/sprig/v3"
ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$gopath/src/github.com/Masterminds/semver/v3"
mkdir -p "$gopath/src/render"
cp "$here/main.go" "$gopath/src/render/"
cd "$gopath/src/render"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-$gopath/cache}" GOFLAGS=-mod=mod go build -o "$out" .
