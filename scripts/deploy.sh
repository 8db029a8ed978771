#!/usr/bin/env bash
# Deploys LlmCostFunctions to one Azure resource group, end to end, and stops only when the app reports healthy:
#   1. resource group (created with -l when missing) and its name salt (tag llmcost-name-salt, set once)
#   2. infra-bicep/main.bicep, built with the pinned Bicep CLI, deployed with `az deployment group create`
#      (the admin key is generated and stored in Key Vault on the first deployment only, and printed once then)
#   3. waits until the app identity's role assignments are visible (bounded)
#   4. uploads the package of scripts/publish.sh (zip deploy), bounded retries, each attempt under a timeout
#   5. refreshes the app's Key Vault references until every one is Resolved, then restarts the app
#   6. polls GET /api/health until 200 (bounded); the app answers 503 naming any setting it refused
#
# Usage: scripts/deploy.sh -g RESOURCE_GROUP -e ENVIRONMENT [options]
#   -g, --resource-group NAME   target resource group (required)
#   -e, --environment NAME      environmentName: 2-8 lower-case letters or digits, starting with a letter (required)
#   -l, --location REGION       create the resource group there when it does not exist
#   -p, --parameter NAME=VALUE  a further template parameter (repeatable), e.g. -p storagePrefix=acme -p smtpUser=alerts
#       --package ZIP           the package to upload (default artifacts/llmcost-functions.zip, built when missing)
#       --name-salt VALUE       use this salt instead of the resource group's tag ("" keeps unsalted names)
#       --admin-key-file FILE   write a newly generated admin key to FILE (mode 600) instead of printing it
#       --what-if               print the plan (parameters, template, predicted resources, steps); change nothing
#   -h, --help
# Environment: LLMCOST_SMTP_PASSWORD (stored as the smtp-password secret; never put it on the command line),
#   AZ (the Azure CLI command, default az), LLMCOST_DEPLOY_ROLE_WAIT / _UPLOAD_ATTEMPTS / _UPLOAD_TIMEOUT /
#   _REFERENCE_WAIT / _HEALTH_WAIT / _POLL_INTERVAL / _RETRY_PAUSE (seconds or counts; defaults 300 / 5 / 600 /
#   300 / 600 / 10 / 15).
set -euo pipefail
umask 077

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
az_cli="${AZ:-az}"
role_wait="${LLMCOST_DEPLOY_ROLE_WAIT:-300}"
upload_attempts="${LLMCOST_DEPLOY_UPLOAD_ATTEMPTS:-5}"
upload_timeout="${LLMCOST_DEPLOY_UPLOAD_TIMEOUT:-600}"
reference_wait="${LLMCOST_DEPLOY_REFERENCE_WAIT:-300}"
health_wait="${LLMCOST_DEPLOY_HEALTH_WAIT:-600}"
poll_interval="${LLMCOST_DEPLOY_POLL_INTERVAL:-10}"
retry_pause="${LLMCOST_DEPLOY_RETRY_PAUSE:-15}"
salt_tag="llmcost-name-salt"
# The role assignments main.bicep gives the app identity (checked before the upload).
expected_roles=("Storage Blob Data Owner" "Storage Queue Data Contributor" "Storage Table Data Contributor" "Key Vault Secrets User")
arm="https://management.azure.com"
web_api="2022-03-01"
vault_api="2023-07-01"

die() { echo "deploy: error: $*" >&2; exit 1; }
usage_error() { echo "deploy: $*" >&2; echo "usage: scripts/deploy.sh -g RESOURCE_GROUP -e ENVIRONMENT [-l REGION] [-p NAME=VALUE]... [--what-if] (see --help)" >&2; exit 2; }
step() { echo "==> $*" >&2; }
note() { echo "    $*" >&2; }

resource_group="" environment="" location="" package="$root/artifacts/llmcost-functions.zip" package_given=false
name_salt="" name_salt_given=false admin_key_file="" what_if=false
overrides=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -g|--resource-group) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; resource_group="$2"; shift 2 ;;
    -e|--environment) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; environment="$2"; shift 2 ;;
    -l|--location) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; location="$2"; shift 2 ;;
    -p|--parameter)
      [[ $# -ge 2 ]] || usage_error "$1 needs NAME=VALUE"
      [[ "$2" =~ ^[A-Za-z][A-Za-z0-9]*= ]] || usage_error "$1 takes NAME=VALUE, got '$2'"
      case "${2%%=*}" in
        environmentName|nameSalt) usage_error "set ${2%%=*} with its own option (-e, --name-salt)" ;;
        adminKey|smtpPassword) usage_error "${2%%=*} is a secret: never on the command line (the admin key is generated; use LLMCOST_SMTP_PASSWORD)" ;;
      esac
      overrides+=("$2"); shift 2 ;;
    --package) [[ $# -ge 2 ]] || usage_error "$1 needs a file"; package="$2"; package_given=true; shift 2 ;;
    --name-salt) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; name_salt="$2"; name_salt_given=true; shift 2 ;;
    --admin-key-file) [[ $# -ge 2 ]] || usage_error "$1 needs a file"; admin_key_file="$2"; shift 2 ;;
    --what-if) what_if=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ -n "$resource_group" ]] || usage_error "the resource group is required (-g)"
[[ -n "$environment" ]] || usage_error "the environment name is required (-e)"
# The same rule main.bicep enforces, checked here so a typo fails before anything is called.
[[ "$environment" =~ ^[a-z][a-z0-9]{1,7}$ ]] || usage_error "environment '$environment' must be 2-8 lower-case letters or digits, starting with a letter"
[[ "$resource_group" =~ ^[-A-Za-z0-9_.()]{1,90}$ && "$resource_group" != *. ]] || usage_error "'$resource_group' is not a valid resource group name"
for number in "$role_wait" "$upload_attempts" "$upload_timeout" "$reference_wait" "$health_wait" "$poll_interval" "$retry_pause"; do
  [[ "$number" =~ ^[1-9][0-9]*$ ]] || die "the LLMCOST_DEPLOY_* waits and counts must be positive integers (got '$number')"
done
deployment_name="llmcost-$environment"

work="$(mktemp -d "${TMPDIR:-/tmp}/llmcost-deploy.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/bicep.sh
source "$root/scripts/bicep.sh"

build_template() {
  ensure_bicep
  "$LLMCOST_BICEP" build "$root/infra-bicep/main.bicep" --outfile "$work/main.json" >&2 \
    || die "bicep build failed for infra-bicep/main.bicep"
}

logged_in() {
  command -v "$az_cli" >/dev/null 2>&1 && "$az_cli" account show --only-show-errors -o none >/dev/null 2>&1
}

# Parameters as a JSON parameters file (secrets go only here, in a private temp folder, never into argv).
write_parameters() { # write_parameters FILE SALT ADMIN_KEY
  local smtp_password="${LLMCOST_SMTP_PASSWORD:-}"
  jq -n --arg env "$environment" --arg salt "$2" --arg adminKey "$3" --arg smtp "$smtp_password" '
    {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
     contentVersion: "1.0.0.0",
     parameters: ({environmentName: {value: $env}, nameSalt: {value: $salt}}
       + (if $adminKey == "" then {} else {adminKey: {value: $adminKey}} end)
       + (if $smtp == "" then {} else {smtpPassword: {value: $smtp}} end))}' >"$1"
}

override_args() { # the -p NAME=VALUE overrides as az arguments (az converts them to the template's types)
  local item
  for item in "${overrides[@]+"${overrides[@]}"}"; do printf '%s\0' "$item"; done
}

print_steps() {
  cat <<EOF
Steps deploy.sh runs (no --what-if):
  1. az group show -n $resource_group   (created with -l REGION when missing); the name salt is the group's tag
     $salt_tag, or a new random one set once with: az tag update --operation Merge
  2. scripts/bicep.sh build infra-bicep/main.bicep; az deployment group create -g $resource_group -n $deployment_name
     --template-file main.json --parameters @<private parameters file>   (adminKey only while Key Vault has none)
  3. poll az role assignment list --scope <storage account, vault> until the app identity holds:
     ${expected_roles[*]}   (<= ${role_wait}s)
  4. az functionapp deployment source config-zip --src ${package#"$root"/}   (<= $upload_attempts attempts, ${upload_timeout}s each)
  5. az rest POST <app>/config/configreferences/appsettings/refresh; poll until every reference is Resolved
     (<= ${reference_wait}s); az functionapp restart
  6. poll GET <app url>/api/health until 200   (<= ${health_wait}s)
  after 2: a newly generated admin key is printed once (or written to --admin-key-file); later, with Key Vault Secrets
     User on the vault: az keyvault secret show --vault-name <vault> -n admin-key --query value -o tsv
EOF
}

what_if() {
  step "what-if: nothing is changed"
  echo "Resolved parameters:"
  echo "  resource group      $resource_group   (deployment name $deployment_name)"
  echo "  location            ${location:-(that of the resource group)}"
  echo "  environmentName     $environment"
  if $name_salt_given; then
    echo "  nameSalt            '${name_salt}'   (--name-salt)"
  else
    echo "  nameSalt            the resource group's tag $salt_tag (a new random one when absent)"
  fi
  echo "  adminKey            generated and stored in Key Vault on the first deployment only (never shown here)"
  echo "  smtpPassword        $([[ -n "${LLMCOST_SMTP_PASSWORD:-}" ]] && echo "from LLMCOST_SMTP_PASSWORD" || echo "not given (an existing secret is kept)")"
  local item
  for item in "${overrides[@]+"${overrides[@]}"}"; do printf '  %-19s %s\n' "${item%%=*}" "${item#*=}"; done
  echo "  package             ${package#"$root"/}$([[ -f "$package" ]] || echo "   (missing: scripts/publish.sh builds it)")"

  step "bicep build infra-bicep/main.bicep"
  build_template
  echo "template: $(jq '[.. | objects | select(has("type") and has("apiVersion"))] | length' "$work/main.json") resource declarations, built clean"

  if logged_in; then
    local salt="$name_salt"
    if ! $name_salt_given; then
      salt="$("$az_cli" group show -n "$resource_group" --query "tags.\"$salt_tag\"" -o tsv 2>/dev/null || true)"
      [[ -n "$salt" ]] || salt="(new)"
    fi
    write_parameters "$work/parameters.json" "$salt" ""
    local args=()
    mapfile -d '' -t args < <(override_args)
    step "$az_cli deployment group what-if (logged in)"
    if "$az_cli" group show -n "$resource_group" -o none 2>/dev/null; then
      "$az_cli" deployment group what-if -g "$resource_group" -n "$deployment_name" --template-file "$work/main.json" \
        --parameters @"$work/parameters.json" ${args[@]+"--parameters" "${args[@]}"} --only-show-errors
    else
      echo "resource group $resource_group does not exist yet: every resource below would be created"
      snapshot_plan "$salt"
    fi
  else
    step "not logged in to Azure (or no '$az_cli'): the plan is predicted locally with 'bicep snapshot'"
    note "names below use a placeholder subscription id; the real ones differ in their unique suffix"
    local salt=""
    if $name_salt_given; then salt="$name_salt"; fi
    snapshot_plan "$salt"
  fi
  echo
  print_steps
}

# Predicts the deployed resources without Azure: bicep snapshot evaluates the template for a placeholder scope.
snapshot_plan() { # snapshot_plan SALT
  local dir="$work/snapshot" relative
  mkdir -p "$dir"
  relative="$(realpath --relative-to="$dir" "$root/infra-bicep/main.bicep")"
  {
    echo "using '$relative'"
    echo "param environmentName = '$environment'"
    echo "param nameSalt = '${1//[^A-Za-z0-9-]/}'"
    local item name value
    for item in "${overrides[@]+"${overrides[@]}"}"; do
      name="${item%%=*}" value="${item#*=}"
      if [[ "$value" =~ ^-?[0-9]+$ || "$value" == true || "$value" == false ]]; then
        echo "param $name = $value"
      else
        echo "param $name = '${value//\'/\\\'}'"
      fi
    done
  } >"$dir/plan.bicepparam"
  "$LLMCOST_BICEP" snapshot "$dir/plan.bicepparam" --mode overwrite --subscription-id 00000000-0000-0000-0000-000000000000 \
    --resource-group "$resource_group" --location "${location:-westeurope}" --deployment-name "$deployment_name" >&2 \
    || die "the template rejects these parameters (see above)"
  echo "Predicted resources:"
  jq -r '.predictedResources[] | "  \(.type)  \(.name)\(if .condition then "   (only when: \(.condition))" else "" end)"' "$dir/plan.snapshot.json"
  echo "App settings of the function app (secrets are Key Vault references, never values):"
  jq -r '.predictedResources[] | select(.type == "Microsoft.Web/sites") | .properties.siteConfig.appSettings[]
         | "  \(.name) = \(.value)"' "$dir/plan.snapshot.json"
}

if $what_if; then
  what_if
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
command -v "$az_cli" >/dev/null 2>&1 || die "the Azure CLI ('$az_cli') is not installed: https://learn.microsoft.com/cli/azure/install-azure-cli"
command -v jq >/dev/null 2>&1 || die "jq is required"
command -v curl >/dev/null 2>&1 || die "curl is required"
command -v openssl >/dev/null 2>&1 || die "openssl is required (admin key generation)"
logged_in || die "not logged in: run '$az_cli login' (and '$az_cli account set -s <subscription>')"

# Retries "$@" with a per-attempt timeout and growing pauses; returns the last status.
with_retries() { # with_retries ATTEMPTS TIMEOUT WHAT COMMAND...
  local attempts="$1" limit="$2" what="$3" attempt=1 pause="$retry_pause" status=0
  shift 3
  while true; do
    status=0
    timeout --kill-after=30 "$limit" "$@" || status=$?
    [[ $status -eq 0 ]] && return 0
    [[ $status -eq 124 ]] && note "$what: attempt $attempt timed out after ${limit}s"
    [[ $status -ne 124 ]] && note "$what: attempt $attempt failed (exit $status)"
    (( attempt >= attempts )) && return "$status"
    note "retrying in ${pause}s"
    sleep "$pause"
    attempt=$((attempt + 1)) pause=$((pause * 2))
  done
}

# Polls CONDITION (a command) every INTERVAL seconds until it succeeds or DEADLINE seconds passed.
wait_until() { # wait_until SECONDS INTERVAL WHAT COMMAND...
  local limit="$1" interval="$2" what="$3"
  local deadline=$((SECONDS + limit))
  shift 3
  until "$@"; do
    (( SECONDS < deadline )) || { note "$what: not reached within ${limit}s"; return 1; }
    sleep "$interval"
  done
}

step "1. resource group $resource_group"
if ! "$az_cli" group show -n "$resource_group" -o none 2>/dev/null; then
  [[ -n "$location" ]] || die "resource group $resource_group does not exist: give -l REGION to create it"
  "$az_cli" group create -n "$resource_group" -l "$location" --only-show-errors -o none
  note "created in $location"
fi
group_id="$("$az_cli" group show -n "$resource_group" --query id -o tsv)"
if ! $name_salt_given; then
  name_salt="$("$az_cli" group show -n "$resource_group" --query "tags.\"$salt_tag\"" -o tsv)"
  if [[ -z "$name_salt" ]]; then
    # A new resource group (or one re-created after deletion) gets new globally unique names: the previous life's
    # Key Vault name stays reserved for 30 days.
    name_salt="$(openssl rand -hex 4)"
    "$az_cli" tag update --resource-id "$group_id" --operation Merge --tags "$salt_tag=$name_salt" --only-show-errors -o none
    note "name salt $name_salt stored as tag $salt_tag"
  fi
fi

# The admin key is generated once: only when no earlier deployment's vault holds it (checked again afterwards).
secret_exists() { # secret_exists VAULT_ID NAME  (control plane: needs no permission on secret values)
  "$az_cli" rest --method get --url "$arm$1/secrets?api-version=$vault_api" --only-show-errors -o json \
    | jq -e --arg name "$2" '[.value[]?.name] | index($name) != null' >/dev/null
}
admin_key="" generated=false
enable_admin_key=true
for item in "${overrides[@]+"${overrides[@]}"}"; do [[ "${item,,}" == "enableadminkey=false" ]] && enable_admin_key=false; done
if $enable_admin_key; then
  previous_vault="$("$az_cli" deployment group show -g "$resource_group" -n "$deployment_name" \
    --query properties.outputs.keyVaultId.value -o tsv 2>/dev/null || true)"
  if [[ -z "$previous_vault" ]] || ! secret_exists "$previous_vault" admin-key 2>/dev/null; then
    admin_key="$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')"
    generated=true
  fi
fi

step "2. template infra-bicep/main.bicep -> deployment $deployment_name"
build_template
write_parameters "$work/parameters.json" "$name_salt" "$admin_key"
mapfile -d '' -t override_list < <(override_args)
"$az_cli" deployment group create -g "$resource_group" -n "$deployment_name" --template-file "$work/main.json" \
  --parameters @"$work/parameters.json" ${override_list[@]+"--parameters" "${override_list[@]}"} \
  --only-show-errors --query properties.outputs -o json >"$work/outputs.json" \
  || die "the template deployment failed (see above); nothing was uploaded"
output() { jq -er --arg name "$1" '.[$name].value' "$work/outputs.json"; }
app_name="$(output functionAppName)" app_id="$(output functionAppId)" app_url="$(output functionAppUrl)"
vault_name="$(output keyVaultName)" vault_id="$(output keyVaultId)" storage_id="$(output storageAccountId)"
principal_id="$(output identityPrincipalId)"
note "app $app_name, vault $vault_name"

if $enable_admin_key && ! secret_exists "$vault_id" admin-key; then
  # The vault is not the one the earlier deployment used (e.g. a different salt): create the secret now.
  admin_key="$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')"
  generated=true
  jq -n --arg value "$admin_key" '{properties: {value: $value}}' >"$work/secret.json"
  "$az_cli" rest --method put --url "$arm$vault_id/secrets/admin-key?api-version=$vault_api" \
    --body @"$work/secret.json" --only-show-errors -o none
  rm -f "$work/secret.json"
fi

# Shown as soon as it is stored, so a later failing step cannot lose it.
if $generated; then
  if [[ -n "$admin_key_file" ]]; then
    (umask 077 && printf '%s\n' "$admin_key" >"$admin_key_file")
    note "the new admin key is in $admin_key_file (mode 600)"
  else
    echo "Admin key (generated now, shown only this once; stored in Key Vault $vault_name as secret admin-key):"
    echo "$admin_key"
  fi
elif $enable_admin_key; then
  note "admin key unchanged (Key Vault $vault_name, secret admin-key); to read it, with Key Vault Secrets User on the vault:"
  note "  $az_cli keyvault secret show --vault-name $vault_name -n admin-key --query value -o tsv"
fi

step "3. role assignments of the app identity"
roles_visible() { # by principal id at each scope: no directory (Graph) lookup, which the deployer may not be allowed
  local granted scope
  granted="$(for scope in "$storage_id" "$vault_id"; do
    "$az_cli" role assignment list --scope "$scope" --query "[?principalId=='$principal_id'].roleDefinitionName" -o tsv
  done 2>/dev/null)" || return 1
  local role
  for role in "${expected_roles[@]}"; do grep -qxF "$role" <<<"$granted" || return 1; done
}
wait_until "$role_wait" "$poll_interval" "role assignments" roles_visible \
  || die "the app identity's role assignments are not visible after ${role_wait}s: check 'az role assignment list --assignee $principal_id --all'"
note "visible: ${expected_roles[*]} (data-plane enforcement can lag; the upload below retries)"

step "4. package -> $app_name"
if [[ ! -f "$package" ]]; then
  $package_given && die "package $package does not exist"
  "$root/scripts/publish.sh"
fi
with_retries "$upload_attempts" "$upload_timeout" "upload" \
  "$az_cli" functionapp deployment source config-zip -g "$resource_group" -n "$app_name" --src "$package" --only-show-errors -o none \
  || die "the package upload failed $upload_attempts times; the infrastructure is deployed, rerun this script to retry"

step "5. Key Vault references"
references_resolved() {
  local unresolved
  unresolved="$("$az_cli" rest --method get --url "$arm$app_id/config/configreferences/appsettings?api-version=$web_api" -o json 2>/dev/null \
    | jq -r '[.value[]? | select(.properties.status != "Resolved") | "\(.name | split("/") | last) (\(.properties.status))"] | join(", ")')" || return 1
  [[ -z "$unresolved" ]] && return 0
  note "not resolved yet: $unresolved"
  return 1
}
"$az_cli" rest --method post --url "$arm$app_id/config/configreferences/appsettings/refresh?api-version=$web_api" --only-show-errors -o none \
  || note "the refresh request failed; polling the references anyway"
wait_until "$reference_wait" "$poll_interval" "Key Vault references" references_resolved \
  || die "Key Vault references did not resolve within ${reference_wait}s (the app refuses them and reports them at /api/health)"
# The app reads its settings at start: restart so every instance starts with the resolved values.
"$az_cli" functionapp restart -g "$resource_group" -n "$app_name" --only-show-errors -o none

step "6. $app_url/api/health"
healthy() {
  local code
  code="$(curl -sS -o "$work/health.json" -w '%{http_code}' --max-time 15 "$app_url/api/health" 2>/dev/null)" || code="000"
  [[ "$code" == 200 ]] && return 0
  note "health answered $code: $(head -c 400 "$work/health.json" 2>/dev/null || true)"
  return 1
}
wait_until "$health_wait" "$poll_interval" "health" healthy || die "$app_url/api/health did not become healthy within ${health_wait}s (last answer above)"
note "healthy"

echo "$app_url"
