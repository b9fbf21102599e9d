#!/usr/bin/env python3
# gen_ctl_sections.py -- regenerate the ctl/stats part of xalloc.3: from
# ".SH SYNOPSIS" up to the marker line '.\" @CTL-END@' (the profiling and
# hardening sections below it are written by hand and kept).
#
# Sources: src/options.def (OPTIONS), the stats tables in src/ctl.h, and the
# list of ctl names with their types printed by the library itself:
#   cc -o /tmp/ctl_names man/ctl_names.c build/src/.libs/libxalloc_test.a -lpthread -lm
#   /tmp/ctl_names > /tmp/names.txt
#   python3 man/gen_ctl_sections.py /tmp/names.txt
# The documentation of the hand-written names is in the `hand` table below.
# test/unit/test_ctl.c checks that every name and option is documented.
import os
import re, sys
root=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def esc(s):
    s=s.replace('\\','\\e')
    return s
# options
opts=[]
for line in open(root+'/src/options.def'):
    m=re.match(r'XA_OPT\((\w+),\s*(\w+),\s*("[^"]*"|[^,]+),\s*([^,]+),\s*([^,]+),\s*("[^"]*"|NULL),\s*"(.*)"\)\s*$',line)
    if m: opts.append(m.groups())
# stats docs from ctl.h
ctlh=open(root+'/src/ctl.h').read()
def table(name):
    blk=ctlh[ctlh.index('#define '+name+'(X)'):]
    blk=blk[:blk.index('\n\n')]
    rows=re.findall(r'X\(([\w.]+),\s*(\w),\s*.*?,\s*"([^"]*)"\)',blk)
    return rows
kindtype={'B':'size_t','N':'size_t','P':'size_t','C':'uint64_t','M':'size_t'}
kindunit={'B':'bytes','N':'','P':'pages','C':'counter','M':'ms'}
names=[l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
types={n:(t,rw) for n,t,rw in names}
out=[]
def ent(name, doc):
    t,rw=types[name]
    rwd={'r-':'r-','rw':'rw','-w':'-w','-':'action'}[rw]
    out.append('.TP\n.B "%s" (\\fI%s\\fR, %s)\n%s' % (name, t, rwd, doc))
hand={
'version':'The library version, e.g. "0.1.0".',
'epoch':'Writing any value refreshes the statistics snapshot that every \\fBstats.*\\fR name reads; reading returns the snapshot number. Without a write the values stay those of the previous refresh (the first stats read refreshes once).',
'background_thread':'Whether the background thread releases freed memory of idle processes (when off, releases happen on allocator calls). Writing false then true switches it off and on again; writing true fails with EAGAIN only when the process started with \\fBbackground_thread:false\\fR. \\fBopt.background_thread\\fR keeps the start-up value.',
'release':'Action: flush the calling thread\'s cache and release every unused page of every arena and the huge cache now (as \\fBmalloc_trim\\fR(0)).',
'config.debug':'Built with \\fB\\-\\-enable\\-debug\\fR (internal assertions).',
'config.stats':'Statistics counters compiled in (\\fB\\-\\-disable\\-stats\\fR turns the per-bin and per-arena event counters off; byte counts stay).',
'config.prof':'Heap profiling compiled in.',
'config.prefix':'The symbol prefix of the standard entry points ("" when xalloc replaces malloc).',
'config.page':'Page size in bytes (4096).',
'config.chunk':'Chunk size in bytes: arenas map memory in chunks of this size; larger allocations are "huge".',
'thread.allocated':'Usable bytes allocated by the calling thread since it started (always counted).',
'thread.deallocated':'Usable bytes freed by the calling thread.',
'thread.arena':'The calling thread\'s arena. Writing an index below \\fBarenas.narenas\\fR binds the thread to that arena (creating it if needed); EINVAL otherwise.',
'thread.tcache.flush':'Action: return every object in the calling thread\'s cache to its arena.',
'thread.tcache.enabled':'Whether the calling thread uses a thread cache. Writing false flushes and disables it; writing true re-enables it (EAGAIN under \\fBtcache:false\\fR).',
'arenas.narenas':'The maximum number of arenas (\\fBnarenas\\fR, or one per CPU).',
'arenas.ncreated':'Arenas created so far (they are created lazily); valid arena indices are below this.',
'arenas.nbins':'Number of small size classes (bins).',
'arenas.nlextents':'Number of large size classes.',
'arenas.decay_ms':'Default release time for arenas created later and for cached huge mappings, \\-1 to 3600000. Existing arenas keep theirs: see \\fBarena.<i>.decay_ms\\fR.',
'arenas.purge_policy':'How pages are released: "dontneed" (MADV_DONTNEED: RSS drops at once, pages become retained) or "free" (MADV_FREE: lazy). Writing another string is EINVAL.',
'arenas.tcache_max':'Largest size cached by thread caches (0 without caches).',
'arenas.bin.<i>.size':'Size in bytes of small class \\fIi\\fR.',
'arenas.bin.<i>.nregs':'Regions per slab of small class \\fIi\\fR.',
'arenas.bin.<i>.slab_size':'Bytes per slab of small class \\fIi\\fR.',
'arenas.lextent.<i>.size':'Size in bytes of large class \\fIi\\fR.',
'arena.<i>.purge':'Action: release every dirty page of arena \\fIi\\fR now; with \\fIi\\fR = 4096 (XALLOC_ARENAS_ALL), of every arena and the cached huge mappings. An arena below \\fBarenas.narenas\\fR not created yet has nothing to release: success, so a loop over \\fBarenas.narenas\\fR works.',
'arena.<i>.decay_ms':'Release time of arena \\fIi\\fR in ms: dirty pages are released within this time of becoming unused; 0 at once, \\-1 never. With \\fIi\\fR = 4096 reading gives the default and writing sets every existing arena. ENOENT for an arena not created yet (it will start with \\fBarenas.decay_ms\\fR).',
'stats.peak.reset':'Action: start the high-water marks (\\fBstats.peak.*\\fR) over from the current values; the resident mark by writing 5 to /proc/self/clear_refs (where that is refused, it is sampled from the RSS from then on). See PEAKS.',
'stats.arenas.<i>.decay_ms':'Release time of the arena (for 4096: the largest).',
}

S=[]
S.append(r'''.nf
.B int xallocctl(const char *name, void *oldp, size_t *oldlenp,
.B "              void *newp, size_t newlen);"
.B int xallocctl_nametomib(const char *name, size_t *mibp, size_t *miblenp);
.B int xallocctl_bymib(const size_t *mib, size_t miblen, void *oldp,
.B "              size_t *oldlenp, void *newp, size_t newlen);"
.B void xalloc_stats_print(void (*write_cb)(void *, const char *),
.B "              void *cbopaque, const char *opts);"
.B extern const char *xalloc_conf;
.sp
Link with \fB\-lxalloc\fR, or run an unmodified program with
.B xalloc [\-\-stats] [\-\-conf 'k:v,...'] \-\- program args...
.fi
.SH DESCRIPTION
xalloc is a general-purpose implementation of
.BR malloc (3)
and the functions around it (calloc, realloc, reallocarray, free,
posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
malloc_usable_size, free_sized, free_aligned_sized, malloc_trim, mallopt,
mallinfo, mallinfo2, malloc_stats), with thread caches, a bounded pool of
arenas, a page allocator that releases freed memory within a set time, and
statistics that add up to the kernel's resident set size.
.BR mallopt ()
acts on \fBM_ARENA_MAX\fR (bounds the arenas of threads that start from
then on) and returns 0, changing nothing, for every other parameter,
\fBM_PERTURB\fR included (the option \fBjunk\fR fills new and freed memory).
.PP
Small sizes (up to 16 KiB) come from slabs, large sizes (up to 4 MiB) from
runs of pages, and bigger sizes ("huge") from their own mappings.
Each freed page is in exactly one state: dirty (free, resident, reusable at
once), lazy (given back with MADV_FREE, resident until the kernel reclaims
it) or retained (address space kept, not backed by memory).
Dirty pages are released \fBdecay_ms\fR milliseconds after they became
unused, by a background thread or at allocator calls.
.SS xallocctl
.BR xallocctl ()
reads and/or writes one value of the control namespace by its dotted
\fIname\fR.
To read, pass \fIoldp\fR pointing at a variable of the value's type and
\fI*oldlenp\fR equal to its size; to write, pass \fInewp\fR pointing at
the new value and \fInewlen\fR equal to its size.
Both may be given in one call: the old value is returned and the new one
set.
A write is validated before anything is read or changed.
Names marked "action" take neither (all four arguments NULL/0) and do
something when called.
Strings are returned as \fBconst char *\fR pointing at storage that stays
valid for the life of the process; they are written the same way.
.PP
.BR xallocctl_nametomib ()
translates a name into a "management information base", an array of
integers, once: \fI*miblenp\fR gives the capacity of \fImibp\fR on entry
and the length used on return (a component such as \fBprocess.rss\fR or
\fBsmall.nmalloc\fR whose name contains a dot is one element).
At an indexed component (\fI<i>\fR, \fI<j>\fR below) the element is the
index itself, so a program can translate
"stats.arenas.0.bins.0.nmalloc" once and then vary elements 2 and 4 in calls
to
.BR xallocctl_bymib (),
which behaves as
.BR xallocctl ()
without the name lookup.
.PP
The functions return 0 on success, or an error number:
.TP
.B ENOENT
unknown name, a name that stops at an inner node, or an index out of range
(an arena index not below \fBarenas.narenas\fR, an arena not created yet
for \fBarena.<i>.decay_ms\fR, or not in the last snapshot for
\fBstats.arenas.<i>\fR);
\fBxallocctl_nametomib\fR accepts a name that stops at an inner node
(e.g. "stats.arenas.0.bins") and returns that partial mib;
.TP
.B EINVAL
\fIoldp\fR or \fIoldlenp\fR missing when reading, a length that is not the
size of the value's type, a value out of range, or arguments given to an
action; \fBxallocctl_nametomib\fR: too small a \fImibp\fR;
.TP
.B EPERM
writing a read-only name;
.TP
.B EAGAIN
the allocator could not do it now (out of metadata memory, a thread cache or
background thread that cannot be enabled).
.PP
They never crash on a bad name, NULL pointers or wrong lengths, and may be
called from any thread.
.PP
The index 4096 (\fBXALLOC_ARENAS_ALL\fR in <xalloc.h>) means "all arenas"
in \fBarena.<i>.*\fR and \fBstats.arenas.<i>.*\fR (merged statistics).
.SS xalloc_stats_print
.BR xalloc_stats_print ()
writes a statistics report through \fIwrite_cb\fR(\fIcbopaque\fR, text),
several calls of at most 2 KiB each; with a NULL \fIwrite_cb\fR it writes to
standard error.
It takes a fresh snapshot first and holds no allocator lock while calling
\fIwrite_cb\fR, which may therefore allocate (but may not call
\fBxalloc_stats_print\fR itself: that call prints one line and returns).
The letters of \fIopts\fR (NULL is the same as "") select the format:
.TP
.B J
JSON: one object {"xalloc": {"version", "config", "opt", "stats"}};
"config" and "opt" hold the \fBconfig.*\fR and \fBopt.*\fR values under
their names without the prefix; "stats" holds every \fBstats.*\fR value
under its name without the "stats." prefix, the settings in force
("decay_ms", "purge", "background_thread"), "map_count_near_limit",
"verdict", and "arenas": "all" and one object per arena, each with the
\fBstats.arenas.<i>.*\fR fields and "bins" and "lextents" arrays indexed
by class.
.TP
.B P
the Prometheus text exposition format: metrics named
\fBxalloc_\fR\fIname\fR with dots replaced by underscores and the suffix
\fB_bytes\fR (bytes), \fB_pages\fR (pages) or \fB_total\fR (counters);
per-arena values as \fBxalloc_arena_\fR\fIfield\fR{arena="0"|...|"all"};
size classes merged over arenas as \fBxalloc_bin_\fR\fIfield\fR{size="16"}
and \fBxalloc_lextent_\fR\fIfield\fR{size="20480"}.
.PP
and these letters omit a section: \fBs\fR the summary and verdict, \fBg\fR
general information (version, configuration, options, totals), \fBm\fR
merged arena statistics, \fBa\fR per-arena statistics, \fBb\fR small size
classes (bins), \fBl\fR large size classes.
.PP
The default, human-readable report opens with "Where the memory is": the
resident set (RSS, from /proc/self/statm); how much of it lies in xalloc's
own mappings (measured with
.BR mincore (2)
over every chunk and huge mapping) and how much is not the heap (stacks,
code, file mappings, other allocators' mappings); the heap's bytes by state
(live application data, size-class rounding and slab slack, thread caches,
freed pages awaiting release with when the release rate will have released
them, lazily freed MADV_FREE pages with how much of them is still resident
per LazyFree in /proc/self/smaps_rollup, metadata); mapped and retained
virtual memory; what a purge plus thread-cache flush would return now
versus what live objects pin in partly used pages; the number of mappings
against vm.max_map_count, with a warning above 80%; and one verdict line.
The verdict names the largest part of the gap when RSS is much larger than
the live data (e.g. "RSS 3.1 GiB, live 96 MiB: 2.9 GiB freed pages awaiting
release, released in <= 1 s by the background thread; not a leak"), or
calls the process a leak candidate when live data grew at each of the last
four or more reports, pointing to heap profiling.
Then come the totals, and a table per arena (and merged) with one row per
size class in use.
.PP
.BR malloc_stats ()
prints the default report to standard error, as does the option
\fBstats_print:true\fR at exit (or to \fBstats_file\fR).
''')
# options
S.append('.SH OPTIONS\nOptions are set with the environment variable \\fBXALLOC_CONF\\fR, a comma-separated list of \\fIname\\fR:\\fIvalue\\fR items (e.g. XALLOC_CONF=decay_ms:0,purge:free), and by a program that links xalloc by defining the global \\fBxalloc_conf\\fR with the same syntax (XALLOC_CONF is applied after it). XALLOC_CONF is ignored in set-user-ID and set-group-ID programs. A bad item is reported once on standard error and the default kept (or the process aborts with \\fBabort_conf:true\\fR). Sizes take the suffixes K, M, G and T (binary). Every option can be read as \\fBopt.\\fR\\fIname\\fR; the type given below is the C type of that value (options whose value is a word, a size or percentage, or a file name read as \\fBconst char *\\fR).\n')
# The C type opt.<name> reads as (src/ctl.c OPT_CT_*): one type per name.
typn={'BOOL':'bool','INT':'ssize_t','UNSIGNED':'unsigned','SIZE':'size_t','SLACK':'const char *','ENUM':'const char *','STRING':'const char *'}
for name,typ,dfl,mn,mx,ch,doc in opts:
    if typ=='BOOL': rng='true or false'; d=dfl
    elif typ=='ENUM':
        cs=ch.strip('"').split('|'); rng=' or '.join(cs); d=cs[int(dfl)]
    elif typ=='STRING': rng='up to 255 bytes'; d=dfl if dfl!='""' else '"" (empty)'
    elif typ=='SLACK': rng='a size, or P% of live bytes'; d=dfl
    else:
        mx2={'XA_MAX_ARENAS':'256','UINT64_MAX':'2^64\\-1'}.get(mx.strip(),mx.strip())
        rng='%s to %s' % (mn.strip().replace('-','\\-'), mx2); d=dfl.replace('-','\\-')
    S.append('.TP\n.BR %s " (\\fI%s\\fR, default %s; %s)"\n%s\n' % (name, typn[typ], d.replace('"','\\(dq'), rng, esc(doc)))
S.append('.SH CONTROL NAMESPACE\nEach entry gives the name, the C type of its value, and whether it is read-only (r-), read-write (rw), write-only (-w) or an action. \\fI<i>\\fR is an arena index (0 to \\fBarenas.ncreated\\fR\\-1, or 4096 for all arenas; \\fBarena.<i>.*\\fR also accepts any index below \\fBarenas.narenas\\fR) except under \\fBarenas.bin\\fR and \\fBarenas.lextent\\fR, where it is a size-class index; \\fI<j>\\fR is a size-class index (0 to \\fBarenas.nbins\\fR\\-1 for bins, 0 to \\fBarenas.nlextents\\fR\\-1 for lextents).\n')
S.append('.SS General\n')
optdoc={o[0]:o[6] for o in opts}
seen=set()
for n,t,rw in names:
    if n in hand and not n.startswith('stats.') and not n.startswith('prof.') and not n.startswith('thread.prof'):
        if n.startswith('opt.'): continue
        if n.startswith('thread.') and 'thread' not in seen:
            S.append('.SS Thread\n'); seen.add('thread')
        if n.startswith('arenas.') and 'arenas' not in seen:
            S.append('.SS Arenas\n'); seen.add('arenas')
        if n.startswith('config.') and 'config' not in seen:
            S.append('.SS Build configuration\n'); seen.add('config')
        out.clear(); ent(n, hand[n]); S.append(out[0]+'\n')
S.append('.SS Profiling\nThe \\fBprof.*\\fR and \\fBthread.prof.active\\fR names are described under HEAP PROFILING below.\n.SS Options\n')
for n,t,rw in names:
    if n.startswith('opt.'):
        out.clear(); ent(n, 'The option \\fB%s\\fR in force (see OPTIONS).' % n[4:]); S.append(out[0]+'\n')
S.append('''.SS Statistics
Every \\fBstats.*\\fR value is read from the snapshot taken by the last
write to \\fBepoch\\fR.
Sizes are in bytes and counters count events since start-up; per-arena
values for 4096 are merged over all arenas.
''')
for prefix,tab in [('stats.','XA_STATS_GLOBAL'),('stats.arenas.<i>.','XA_STATS_ARENA'),('stats.arenas.<i>.bins.<j>.','XA_STATS_BIN'),('stats.arenas.<i>.lextents.<j>.','XA_STATS_LEXTENT')]:
    for nm,k,doc in table(tab):
        n=prefix+nm
        out.clear(); ent(n, esc(doc) + ('' if k=='C' else {'B':'','N':'','P':' (pages)','M':', in milliseconds (Prometheus: seconds)'}[k]) + '.'); S.append(out[0]+'\n')
    if tab=='XA_STATS_GLOBAL':
        out.clear(); ent('stats.peak.reset', hand['stats.peak.reset']); S.append(out[0]+'\n')
    if tab=='XA_STATS_ARENA':
        out.clear(); ent('stats.arenas.<i>.decay_ms', hand['stats.arenas.<i>.decay_ms']); S.append(out[0]+'\n')
S.append(r'''.SH STATISTICS
The totals are definitions, not estimates:
.TP
.B allocated
the sum over threads (live and exited) of usable bytes allocated minus
usable bytes freed: what the application holds, counted in usable sizes
(\fBmalloc_usable_size\fR).
After an \fBepoch\fR write with no other thread running, a set of
allocations moves it by exactly the sum of their usable sizes.
.TP
.B tcache
free objects held in thread caches (not in \fBallocated\fR).
.TP
.B active
pages of slabs and large runs, plus the mappings of live huge allocations.
.TP
.B slack
\fBactive\fR \- \fBallocated\fR \- \fBtcache\fR: size-class rounding of
large runs and free regions of partly used slabs, pinned by live objects;
\fBslab_purged\fR of it are free pages of partly used slabs already
released (active, but not resident).
.TP
.B dirty
free resident pages awaiting release, plus freed huge mappings kept for
reuse.
.TP
.B lazy
pages released with MADV_FREE; \fBprocess.lazyfree\fR says how much of the
process's MADV_FREE memory the kernel still counts as resident.
.TP
.B retained
address space kept for reuse, not backed by memory.
.TP
.B metadata
memory mapped for xalloc's own structures.
.TP
.B mapped
\fBactive\fR + \fBdirty\fR + \fBlazy\fR + \fBretained\fR + \fBmetadata\fR.
.TP
.B resident
pages of those mappings in RAM, by
.BR mincore (2)
(metadata included: the resident pages of its mappings, also given alone as \fBmetadata_resident\fR).
.TP
.B process.not_heap
\fBprocess.rss\fR \- \fBresident\fR (0 if negative): stacks, code, file
mappings and other allocators' mappings.
.PP
Invariants, exact when no other thread allocates during the refresh:
\fBallocated\fR + \fBtcache\fR <= \fBactive\fR <= \fBmapped\fR;
\fBresident\fR <= \fBmapped\fR;
\fBdirty\fR + \fBlazy\fR + \fBretained\fR + \fBmetadata\fR <= \fBmapped\fR;
\fBreclaimable\fR = \fBdirty\fR + \fBtcache\fR.
Per arena: \fBpactive\fR + \fBpdirty\fR + \fBplazy\fR + \fBpretained\fR =
\fBmapped\fR / 4096; \fBresident\fR <= \fBmapped\fR;
\fBsmall.allocated\fR <= \fBsmall.active\fR;
for a bin, \fBcurregs\fR = \fBnmalloc\fR \- \fBndalloc\fR.
While other threads run, the thread counters and the arena counters are
read at slightly different moments and \fBallocated\fR may momentarily
exceed \fBactive\fR by what those threads allocated in between.
.PP
The statistics are always kept; configuring with \fB\-\-disable\-stats\fR
drops only the per-bin and per-arena event counters.
''')
S.append(r'''.SH ENVIRONMENT
.TP
.B XALLOC_CONF
options, see OPTIONS.
.TP
.B XALLOC_LIB
the library the \fBxalloc\fR launcher preloads (default: the build-tree
library next to the script when run from a build directory, else the
installed one).
.TP
.B LD_PRELOAD
set by the launcher; \fBLD_PRELOAD=libxalloc.so\fR replaces malloc in an
unmodified program.
.SH LAUNCHER
.B xalloc
[\fB\-\-stats\fR[\fB=text\fR|\fBjson\fR|\fBprometheus\fR]]
[\fB\-\-stats\-file\fR \fIpath\fR] [\fB\-\-dump\-signal\fR \fIsig\fR]
[\fB\-\-conf\fR \fIk:v,...\fR] [\fB\-\-lib\fR \fIpath\fR]
[\fB\-\-print\-lib\fR] [\fB\-\-\fR] \fIprogram\fR [\fIargs\fR...]
runs \fIprogram\fR with xalloc preloaded; \fB\-\-stats\fR adds
\fBstats_print:true\fR (\fB=json\fR and \fB=prometheus\fR also
\fBstats_print_opts:J\fR or \fBP\fR), \fB\-\-stats\-file\fR sets
\fBstats_file\fR, \fB\-\-dump\-signal\fR sets \fBdump_signal\fR,
\fB\-\-conf\fR adds options after any \fBXALLOC_CONF\fR already set;
\fB\-\-help\fR lists the options.
.SH EXAMPLES
A complete program (cc example.c \-lxalloc; test/unit/test_docs.c compiles
and runs it):
.PP
.nf
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <xalloc.h>

int main(void)
{
    char *p = malloc(1000);
    uint64_t epoch = 1;
    size_t allocated, rss, len = sizeof(size_t);

    /* refresh the snapshot every stats.* name reads */
    xallocctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
    if (xallocctl("stats.allocated", &allocated, &len, NULL, 0) != 0 ||
        xallocctl("stats.process.rss", &rss, &len, NULL, 0) != 0)
        return 1;
    printf("live %zu of RSS %zu\en", allocated, rss);
    xalloc_stats_print(NULL, NULL, "J");   /* JSON on stderr */
    free(p);
    return 0;
}
.fi
''')
text=''.join(S)
man=open(root+'/man/xalloc.3').read()
a=man.index('.SH SYNOPSIS')
b=man.index('.\\" @CTL-END@')
head=man[:a]
new=head+'.SH SYNOPSIS\n.nf\n.B #include <xalloc.h>\n.fi\n'+text+man[b:]
open(root+'/man/xalloc.3','w').write(new)
