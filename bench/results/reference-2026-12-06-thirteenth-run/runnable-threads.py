import os, time, sys, collections
out = open(sys.argv[1], 'w')
end = time.time() + float(sys.argv[2])
names = {}
def who(pid):
    if pid not in names:
        try:
            cmd = open(f'/proc/{pid}/cmdline','rb').read().replace(b'\0',b' ').decode(errors='replace')
        except Exception:
            cmd = ''
        n = 'server' if 'stadig.dll' in cmd else 'generator' if 'Rehearsal' in cmd else 'postgres' if 'postgres' in cmd else 'sampler' if 'rq2.py' in cmd else 'other'
        names[pid] = n
    return names[pid]
while time.time() < end:
    t = time.time()
    counts = collections.Counter()
    for pid in os.listdir('/proc'):
        if not pid.isdigit(): continue
        try:
            for tid in os.listdir(f'/proc/{pid}/task'):
                with open(f'/proc/{pid}/task/{tid}/stat') as f:
                    s = f.read()
                i = s.rfind(')')
                if s[i+2] == 'R':
                    counts[who(pid)] += 1
        except Exception:
            pass
    out.write(f"{t:.2f} " + " ".join(f"{k}={v}" for k, v in counts.items()) + "\n")
    time.sleep(max(0, 0.1 - (time.time() - t)))
