import os, time, sys, collections
out = open(sys.argv[1], 'w')
end = time.time() + float(sys.argv[2])
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
                    comm = s[s.find('(')+1:i]
                    counts[comm] += 1
        except Exception:
            pass
    out.write(f"{t:.2f} " + " ".join(f"{k.replace(' ','_')}={v}" for k, v in counts.items()) + "\n")
    time.sleep(max(0, 0.1 - (time.time() - t)))
