# Test hook: the Bicep CLI from NuGet for the infra-bicep build/lint test (exports LLMCOST_BICEP).
# shellcheck source=../bicep.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bicep.sh"
ensure_bicep
