# Test hook: builds the deployable package once, before the suite (publishing while the tests run would compete
# with them for the CPU): artifacts/publish/ and artifacts/llmcost-functions.zip. The publish tests check it.
"$LLMCOST_ROOT/scripts/publish.sh" "$LLMCOST_ROOT/artifacts/publish" "$LLMCOST_ROOT/artifacts/llmcost-functions.zip"
export LLMCOST_PUBLISH_DIR="$LLMCOST_ROOT/artifacts/publish"
export LLMCOST_PUBLISH_ZIP="$LLMCOST_ROOT/artifacts/llmcost-functions.zip"
