#!/bin/sh
# Meta-test: the plugin ABI cannot drift unnoticed.
#  1. every built plugin ($top_builddir/plugins/*.so) exports exactly one dynamic symbol of its
#     own, the data symbol omb_plugin_descriptor;
#  2. every entry of docs/abi-symbols.txt ("symbol version") exists in the public headers, with a
#     version no newer than the headers' OMB_ABI_MAJOR.OMB_ABI_MINOR, 1.0 for the members before
#     "ABI 1.0 ends here" and later for those after;
#  3. every function-pointer member of struct omb_host_api is listed, in the header's order.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
NM=${NM:-nm}
list="$top_srcdir/docs/abi-symbols.txt"
host_h="$top_srcdir/core/include/omnibus/host.h"
plugin_h="$top_srcdir/core/include/omnibus/plugin.h"
fail=0
checks=0

bad() {
    echo "FAIL: $*"
    fail=1
}

# ---- 1. exports ----
# Symbols the linker may define in any shared object; not the plugin's own.
linker_syms='^(_init|_fini|__bss_start|_edata|_end|__bss_start__|__bss_end__|_bss_end__'
linker_syms="$linker_syms"'|__end__|__data_start|data_start|_IO_stdin_used)$'
n_plugins=0
for so in "$top_builddir"/plugins/*.so; do
    [ -e "$so" ] || continue
    n_plugins=$((n_plugins + 1))
    checks=$((checks + 1))
    syms=$($NM -D --defined-only "$so") || {
        bad "$NM -D $so"
        continue
    }
    own=$(echo "$syms" | awk 'NF >= 3 { print $2 " " $3 }' | while read -r type name; do
        echo "$name" | grep -qE "$linker_syms" || echo "$type $name"
    done)
    case "$own" in
    "D omb_plugin_descriptor" | "R omb_plugin_descriptor") ;;
    *)
        bad "$(basename "$so") exports $(echo "$own" | tr '\n' ',' | sed 's/,$//')," \
            "expected only the data symbol omb_plugin_descriptor"
        ;;
    esac
done
if [ "$n_plugins" -eq 0 ]; then
    bad "no plugins in $top_builddir/plugins (run make first)"
fi

# ---- 2. the list against the headers ----
if [ ! -f "$list" ]; then
    bad "$list is missing"
    exit 1
fi
abi_major=$(sed -n 's/^#define OMB_ABI_MAJOR \([0-9]*\).*/\1/p' "$plugin_h")
abi_minor=$(sed -n 's/^#define OMB_ABI_MINOR \([0-9]*\).*/\1/p' "$plugin_h")

# The host table's function-pointer members in order, each with "1.0" or "later".
members=$(sed -n '/^struct omb_host_api {/,/^};/p' "$host_h" | awk '
    /ABI 1\.0 ends here/ { later = 1 }
    {
        line = $0
        while (match(line, /\(\*[A-Za-z_][A-Za-z0-9_]*\)/)) {
            print substr(line, RSTART + 2, RLENGTH - 3), (later ? "later" : "1.0")
            line = substr(line, RSTART + RLENGTH)
        }
    }')
if [ -z "$members" ]; then
    bad "no function members found in struct omb_host_api ($host_h)"
fi

listed=""
seen=" "
lineno=0
while read -r sym ver rest; do
    lineno=$((lineno + 1))
    case "$sym" in '' | '#'*) continue ;; esac
    checks=$((checks + 1))
    where="docs/abi-symbols.txt:$lineno"
    if [ -n "$rest" ] || ! echo "$ver" | grep -qE '^[0-9]+\.[0-9]+$'; then
        bad "$where: expected \"symbol MAJOR.MINOR\", got \"$sym $ver $rest\""
        continue
    fi
    case "$seen" in *" $sym "*) bad "$where: $sym is listed twice" ;; esac
    seen="$seen$sym "
    major=${ver%.*}
    minor=${ver#*.}
    if [ "$major" -ne "$abi_major" ] || [ "$minor" -gt "$abi_minor" ]; then
        bad "$where: $sym $ver is not an ABI version of these headers" \
            "($abi_major.0 to $abi_major.$abi_minor)"
    fi
    case "$sym" in
    omb_plugin_descriptor)
        if ! grep -q '^struct omb_plugin_descriptor {' "$plugin_h"; then
            bad "$where: plugin.h does not declare struct omb_plugin_descriptor"
        fi
        ;;
    omb_host_api.*)
        m=${sym#omb_host_api.}
        since=$(echo "$members" | awk -v m="$m" '$1 == m { print $2 }')
        listed="$listed$m
"
        if [ -z "$since" ]; then
            bad "$where: struct omb_host_api in host.h has no function member '$m'"
        elif [ "$since" = 1.0 ] && [ "$ver" != 1.0 ]; then
            bad "$where: $m comes before \"ABI 1.0 ends here\" in host.h but is listed as $ver"
        elif [ "$since" = later ] && [ "$ver" = 1.0 ]; then
            bad "$where: $m comes after \"ABI 1.0 ends here\" in host.h but is listed as 1.0"
        fi
        ;;
    *)
        bad "$where: unknown kind of symbol '$sym' (omb_plugin_descriptor or omb_host_api.NAME)"
        ;;
    esac
done < "$list"

# ---- 3. every member listed, in order ----
checks=$((checks + 1))
in_header=$(echo "$members" | awk '{ print $1 }')
in_list=$(printf '%s' "$listed")
if [ "$in_header" != "$in_list" ]; then
    missing=$(echo "$in_header" | grep -vxF "$in_list" | tr '\n' ' ')
    if [ -n "$missing" ]; then
        bad "host.h members missing from docs/abi-symbols.txt: $missing"
    else
        bad "docs/abi-symbols.txt lists the host API in another order than host.h" \
            "(functions are only appended)"
    fi
fi
checks=$((checks + 1))
grep -qx 'omb_plugin_descriptor 1\.0' "$list" ||
    bad "docs/abi-symbols.txt must list omb_plugin_descriptor 1.0"

echo "$checks checks, $n_plugins plugin(s)"
exit $fail
