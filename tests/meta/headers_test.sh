#!/bin/sh
# Meta-test: every public header in core/include/omnibus/ compiles on its own (it includes what it
# uses), and the headers there are exactly those Makefile.am installs (ombinclude_HEADERS, also
# when a fragment it includes adds to the list).
top_srcdir=${top_srcdir:-.}
CC=${CC:-cc}
inc="$top_srcdir/core/include"
fail=0
checks=0

jansson_cflags=$(pkg-config --cflags jansson 2>/dev/null) || {
    echo "FAIL: pkg-config --cflags jansson"
    exit 1
}

present=$(cd "$inc/omnibus" && ls -- *.h 2>/dev/null | sort)
if [ -z "$present" ]; then
    echo "FAIL: no headers in $inc/omnibus"
    exit 1
fi

for h in $present; do
    checks=$((checks + 1))
    # shellcheck disable=SC2086 # jansson_cflags is a list of flags
    if ! echo "#include <omnibus/$h>" |
        $CC -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" $jansson_cflags -x c - ; then
        echo "FAIL: omnibus/$h does not compile alone"
        fail=1
    fi
done

# ombinclude_HEADERS from Makefile.am and the fragments it includes: "=" or "+=" lines with
# their backslash continuations.
makefiles="$top_srcdir/Makefile.am"
for f in $(sed -n 's|^include \$(srcdir)/||p' "$top_srcdir/Makefile.am"); do
    [ -f "$top_srcdir/$f" ] && makefiles="$makefiles $top_srcdir/$f"
done
# shellcheck disable=SC2086 # a list of files
installed=$(awk '
    /^ombinclude_HEADERS[ \t]*\+?=/ { on = 1 }
    on { print; if ($0 !~ /\\$/) on = 0 }' $makefiles |
    tr ' \t\\=+' '\n\n\n\n\n' | grep '\.h$' | sed 's|.*/||' | sort)

checks=$((checks + 1))
if [ "$present" != "$installed" ]; then
    echo "FAIL: core/include/omnibus/ and ombinclude_HEADERS differ"
    only_dir=$(echo "$present" | grep -vxF "$installed" | tr '\n' ' ')
    only_make=$(echo "$installed" | grep -vxF "$present" | tr '\n' ' ')
    echo "  in core/include/omnibus/ only: $only_dir"
    echo "  in ombinclude_HEADERS only:    $only_make"
    fail=1
fi

echo "$checks checks, headers: $(echo "$present" | tr '\n' ' ')"
exit $fail
