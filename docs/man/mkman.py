#!/usr/bin/env python3
"""mkman.py - the manual pages, generated at build time so they cannot drift.

  mkman.py yaml5 docs/config.md VERSION           > firegw.yaml.5
  mkman.py cmd8  docs/man/firegw.8.md FIREGW VERSION > firegw.8

firegw.yaml(5) is docs/config.md turned into roff: docs/config.md stays the
one place where keys are described. firegw(8) is docs/man/firegw.8.md (the
prose: files, signals, exit status) with its @COMMANDS@ line replaced by the
output of `FIREGW --help` and `FIREGW CMD --help` for every command the
binary lists, so the page says exactly what the built binary accepts.

The Markdown understood is the subset the docs use: # headings, paragraphs,
- and 1. lists, ``` blocks, pipe tables, `code`, **bold**, *italic* and
[links](target). A table row becomes a tagged paragraph (its first cell the
tag, the other cells "header: value"), which reads better at 80 columns
than a five-column table. Python 3 standard library only.
"""
import re
import subprocess
import sys


def esc(text):
    """Escapes roff's specials in plain text."""
    return text.replace('\\', '\\e').replace('-', '\\-')


def inline(text, nested=False):
    """Markdown inline markup to roff font changes, escaping the rest.
    Inside bold or italic (nested) a code span keeps the outer font: roff
    has no font stack to return to."""
    out = []
    pos = 0
    pat = re.compile(r'`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]+)\)')
    for m in pat.finditer(text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(esc(m.group(1)) if nested else '\\fB' + esc(m.group(1)) + '\\fR')
        elif m.group(2) is not None:
            out.append(inline(m.group(2), True) if nested else
                       '\\fB' + inline(m.group(2), True) + '\\fR')
        elif m.group(3) is not None:
            out.append(inline(m.group(3), True) if nested else
                       '\\fI' + inline(m.group(3), True) + '\\fR')
        else:
            out.append(inline(m.group(4), nested))
        pos = m.end()
    out.append(esc(text[pos:]))
    return ''.join(out)


def plain(text):
    """Markdown inline markup removed (headings: .SH takes no font changes)."""
    text = re.sub(r'\[([^\]]+)\]\([^)]+\)', r'\1', text)
    return esc(re.sub(r'[`*]', '', text))


def line_safe(s):
    """A roff text line must not start with a control character."""
    return '\\&' + s if s[:1] in ('.', "'") else s


def cells(row):
    row = row.strip()
    if row.startswith('|'):
        row = row[1:]
    if row.endswith('|'):
        row = row[:-1]
    # a | inside `code` (e.g. "real"|"unwanted") is escaped as \| in the docs
    parts = re.split(r'(?<!\\)\|', row)
    return [p.strip().replace('\\|', '|') for p in parts]


def table(rows, out):
    head = cells(rows[0])
    for row in rows[2:]:
        c = cells(row)
        out.append('.TP')
        out.append(line_safe(inline(c[0])))
        fields, meaning = [], ''
        for h, v in zip(head[1:], c[1:]):
            if not v:
                continue
            if h.lower().startswith('meaning') or h.lower() in ('what', 'effect'):
                meaning = inline(v[0].upper() + v[1:]) + ('' if v.endswith('.') else '.')
            else:
                fields.append(plain(h) + ': ' + inline(v))
        text = ('; '.join(fields) + '. ' if fields else '') + meaning
        out.append(line_safe(text) if text else '\\&')


def markdown(lines, out, skip_title=True):
    """Appends the roff of Markdown lines to out."""
    i = 0
    para = []

    def flush():
        if para:
            out.append('.PP')
            out.append(line_safe(inline(' '.join(para))))
            para.clear()

    while i < len(lines):
        ln = lines[i].rstrip('\n')
        s = ln.strip()
        if s.startswith('```'):
            flush()
            out.append('.PP')
            out.append('.RS 4')
            out.append('.nf')
            i += 1
            while i < len(lines) and not lines[i].strip().startswith('```'):
                out.append(line_safe(esc(lines[i].rstrip('\n'))))
                i += 1
            out.append('.fi')
            out.append('.RE')
        elif s.startswith('#'):
            flush()
            level = len(s) - len(s.lstrip('#'))
            title = s.lstrip('#').strip()
            if level == 1:
                if not skip_title:
                    out.append('.SH "' + plain(title).upper().replace('"', '') + '"')
            elif level == 2:
                out.append('.SH "' + plain(title).upper().replace('"', '') + '"')
            else:
                out.append('.SS "' + plain(title).replace('"', '') + '"')
        elif s.startswith('|'):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith('|'):
                rows.append(lines[i])
                i += 1
            table(rows, out)
            continue
        elif re.match(r'^(- |\d+\. )', s):
            flush()
            m = re.match(r'^(- |(\d+)\. )', s)
            item = [s[m.end():]]
            indent = len(ln) - len(ln.lstrip())
            i += 1
            while i < len(lines):
                nxt = lines[i].rstrip('\n')
                ns = nxt.strip()
                if not ns or re.match(r'^(- |\d+\. )', ns) or ns.startswith(('|', '#', '```')):
                    break
                if len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                item.append(ns)
                i += 1
            out.append('.IP ' + ('\\(bu' if m.group(2) is None else m.group(2) + '.') + ' 4')
            out.append(line_safe(inline(' '.join(item))))
            continue
        elif not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()


def header(name, section, version, what):
    return ['.\\" Generated by docs/man/mkman.py; edit its source, not this file.',
            '.TH %s %s "" "firegw %s" "%s"' % (name.upper(), section, version, what)]


def yaml5(src, version):
    lines = open(src, encoding='utf-8').readlines()
    out = header('firegw.yaml', 5, version, 'File Formats')
    out.append('.SH NAME')
    out.append('firegw.yaml \\- configuration of the firegw fire alarm transmission gateway')
    out.append('.SH DESCRIPTION')
    markdown(lines, out)
    out.append('.SH "SEE ALSO"')
    out.append('.BR firegw (8)')
    return out


def run_help(firegw, args):
    p = subprocess.run([firegw] + args, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        sys.exit('mkman: %s %s exited with %d' % (firegw, ' '.join(args), p.returncode))
    return p.stdout


def commands_roff(firegw):
    """The COMMANDS section from the binary's own help texts."""
    main = run_help(firegw, ['--help'])
    out = ['.SH COMMANDS']
    names = []
    for ln in main.splitlines():
        m = re.match(r'^  ([a-z][a-z-]*)\s+(\S.*)$', ln)
        if m:
            names.append((m.group(1), m.group(2)))
    if not names:
        sys.exit('mkman: no commands in the output of %s --help' % firegw)
    for name, what in names:
        out.append('.SS "%s"' % name)
        out.append(line_safe(inline(what[0].upper() + what[1:] + '.')))
        out.append('.PP')
        out.append('.nf')
        for ln in run_help(firegw, [name, '--help']).rstrip('\n').splitlines():
            out.append(line_safe(esc(ln)))
        out.append('.fi')
    return out


def cmd8(src, firegw, version):
    lines = open(src, encoding='utf-8').readlines()
    out = header('firegw', 8, version, 'System Administration')
    chunk = []
    for ln in lines:
        if ln.strip() == '@COMMANDS@':
            markdown(chunk, out)
            chunk = []
            out.extend(commands_roff(firegw))
        else:
            chunk.append(ln)
    markdown(chunk, out)
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'yaml5':
        out = yaml5(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == 'cmd8':
        out = cmd8(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
