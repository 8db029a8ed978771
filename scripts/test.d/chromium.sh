# Test hook: Debian's chromium and chromedriver for the dashboard's browser tests (exports LLMCOST_CHROMIUM and
# LLMCOST_CHROMEDRIVER). Installed when missing and this runs as root (as the SMTP hook installs its server);
# Selenium then drives that browser through that driver, so nothing is downloaded at test time.
if ! [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "installing chromium and chromium-driver (dashboard browser tests)" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >&2
  else
    echo "chromium/chromedriver are missing: apt-get install chromium chromium-driver (as root)" >&2
    return 1
  fi
fi
export LLMCOST_CHROMIUM=/usr/bin/chromium
export LLMCOST_CHROMEDRIVER=/usr/bin/chromedriver
