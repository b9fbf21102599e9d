#!/usr/bin/env python3
# gen_ctl_sections.py -- regenerate the tables of xalloc.3 from the code.
#
# The man page is written by hand except between marker lines
#     .\" @GEN name@ ... .\" @END name@
# whose contents this script rewrites:
#   options  the OPTIONS entries, one per row of src/options.def (its doc
#            column is the entry's text);
#   ctl      the CONTROL NAMESPACE entries but the profiler's;
#   prof     the prof.* and thread.prof.* entries (HEAP PROFILING).
# The ctl entries come from the library itself: every leaf of the ctl tree
# (src/ctl.c) carries its C type, access and doc string, and the stats.*
# leaves take theirs from the rows of the stats tables (src/stats.h).  So
# adding an option, a ctl name or a statistic is one row in the code, and
# its manual entry follows.
#
# Usage (test/unit/man_generated.sh runs it under `make check` and fails
# when the committed page differs from the output):
#   NAMES: the output of test/unit/ctl_names (`make -C BUILD/test
#          unit/ctl_names`, then `BUILD/test/unit/ctl_names > NAMES`)
#   python3 man/gen_ctl_sections.py NAMES            rewrite man/xalloc.3
#   python3 man/gen_ctl_sections.py NAMES IN OUT     read IN, write OUT
#
# Doc markup in ctl.c (kept readable in C): *text* is bold, ~text~ italic,
# a '-' before a digit or inside bold text is a minus sign, and
# {range:OPTION} is the range of that option's row in options.def (the
# run-time writes are validated by the same row).
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def esc(s):
    return s.replace('\\', '\\e')


def markup(s):
    s = esc(s)
    s = re.sub(r'\{range:(\w+)\}', lambda m: RANGES[m.group(1)], s)
    s = re.sub(r'\*([^ *][^ ]*?)\*(?=[\s).,;:(]|$)',
               lambda m: '\\fB' + m.group(1).replace('-', '\\-') + '\\fR', s)
    s = re.sub(r'~([^~]+)~', r'\\fI\1\\fR', s)
    s = re.sub(r'(^|[ (])-(?=\d)', r'\1\\-', s)
    return s


RANGES = {}


def options():
    out = []
    rx = re.compile(r'XA_OPT\((\w+),\s*(\w+),\s*("[^"]*"|[^,]+),\s*([^,]+),\s*([^,]+),'
                    r'\s*("[^"]*"|NULL),\s*"(.*)"\)\s*$')
    # The C type opt.<name> reads as (src/ctl.c OPT_CT_*): one type per name.
    typn = {'BOOL': 'bool', 'INT': 'ssize_t', 'UNSIGNED': 'unsigned', 'SIZE': 'size_t',
            'SLACK': 'const char *', 'ENUM': 'const char *', 'STRING': 'const char *'}
    for line in open(root + '/src/options.def'):
        m = rx.match(line)
        if not m:
            continue
        name, typ, dfl, mn, mx, ch, doc = m.groups()
        if typ == 'BOOL':
            rng, d = 'true or false', dfl
        elif typ == 'ENUM':
            cs = ch.strip('"').split('|')
            rng, d = ' or '.join(cs), cs[int(dfl)]
        elif typ == 'STRING':
            rng, d = 'up to 255 bytes', dfl if dfl != '""' else '"" (empty)'
        elif typ == 'SLACK':
            rng, d = 'a size, or P% of live bytes', dfl
        else:
            mx2 = {'XA_MAX_ARENAS': '256', 'UINT64_MAX': '2^64\\-1'}.get(mx.strip(), mx.strip())
            rng = '%s to %s' % (mn.strip().replace('-', '\\-'), mx2)
            RANGES[name] = rng
            d = dfl.replace('-', '\\-')
        out.append('.TP\n.BR %s " (\\fI%s\\fR, default %s; %s)"\n%s\n'
                   % (name, typn[typ], d.replace('"', '\\(dq'), rng, esc(doc)))
    return ''.join(out)


def entry(name, typ, rw, doc):
    rwd = {'r-': 'r-', 'rw': 'rw', '-w': '-w', '-': 'action'}[rw]
    return '.TP\n.B "%s" (\\fI%s\\fR, %s)\n%s\n' % (name, typ, rwd, markup(doc))


def is_prof(n):
    return n.startswith('prof.') or n.startswith('thread.prof.')


# CONTROL NAMESPACE subsections, in page order: heading, which names, the
# text under the heading.
SECTIONS = [
    ('General', lambda n: '.' not in n, ''),
    ('Build configuration', lambda n: n.startswith('config.'), ''),
    ('Thread', lambda n: n.startswith('thread.'), ''),
    ('Arenas', lambda n: n.startswith('arenas.') or n.startswith('arena.'), ''),
    ('Profiling', lambda n: False,
     'The \\fBprof.*\\fR and \\fBthread.prof.active\\fR names are described under HEAP PROFILING below.\n'),
    ('Options', lambda n: n.startswith('opt.'), ''),
    ('Statistics', lambda n: n.startswith('stats.'),
     'Every \\fBstats.*\\fR value is read from the snapshot taken by the last\n'
     'write to \\fBepoch\\fR.\n'
     'Sizes are in bytes and counters count events since start-up; per-arena\n'
     'values for 4096 are merged over all arenas.\n'),
]


def ctl(names):
    out = []
    done = set()
    for head, want, text in SECTIONS:
        out.append('.SS %s\n%s' % (head, text))
        for n, t, rw, doc in names:
            if want(n) and not is_prof(n):
                out.append(entry(n, t, rw, doc))
                done.add(n)
    missed = [n for n, t, rw, doc in names if n not in done and not is_prof(n)]
    if missed:
        sys.exit('gen_ctl_sections.py: no section for ' + ', '.join(missed))
    return ''.join(out)


def prof(names):
    return ''.join(entry(n, t, rw, doc) for n, t, rw, doc in names if is_prof(n))


def replace(man, tag, body):
    begin = '.\\" @GEN %s@ generated by man/gen_ctl_sections.py: edit the code, not this\n' % tag
    end = '.\\" @END %s@\n' % tag
    a = man.index(begin) + len(begin)
    b = man.index(end, a)
    return man[:a] + body + man[b:]


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit('usage: gen_ctl_sections.py NAMES [IN OUT]')
    names = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
    src = sys.argv[2] if len(sys.argv) == 4 else root + '/man/xalloc.3'
    dst = sys.argv[3] if len(sys.argv) == 4 else src
    man = open(src).read()
    man = replace(man, 'options', options())  # first: fills RANGES
    man = replace(man, 'ctl', ctl(names))
    man = replace(man, 'prof', prof(names))
    open(dst, 'w').write(man)


main()
