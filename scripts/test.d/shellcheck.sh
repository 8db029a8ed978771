# Test hook: shellcheck for the deployment-script lint test (exports LLMCOST_SHELLCHECK). Debian package shellcheck,
# installed when missing and this runs as root (as the SMTP hook installs its server).
if ! command -v shellcheck >/dev/null 2>&1; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "installing shellcheck (lint of scripts/deploy.sh)" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck >&2
  else
    echo "shellcheck is missing: apt-get install shellcheck (as root)" >&2
    return 1
  fi
fi
LLMCOST_SHELLCHECK="$(command -v shellcheck)"
export LLMCOST_SHELLCHECK
