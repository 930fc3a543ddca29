import sys,csv,collections
name=sys.argv[1]
rows=list(csv.DictReader(open(f'/work/runs/{name}-samples.csv')))
b={'search':20,'note-autosave':30,'note-sign':50,'fhir-read':10,'chart':100,'result-attest':50,'prescribe':50,'administer':50,'medication-round':100,'medication-list':100,'fhir-search-patient':20,'fhir-search-observation':30}
last=max([float(s['at_s']) for s in rows if s['action']=='login' and s['outcome']=='Ok' and 60<=float(s['at_s'])<120] or [60])
n=[0,0];o=[0,0]
per=collections.defaultdict(lambda:[0,0])
for s in rows:
  t=float(s['at_s'])
  if not(60<=t<120) or s['outcome']!='Ok' or s['action'] not in b: continue
  i=0 if t<=last+1 else 1
  ov=float(s['server_ms'])>b[s['action']]
  n[i]+=1; o[i]+=ov
  per[s['action']][0]+=1; per[s['action']][1]+=ov
  if ov: print(f"  over {s['action']} at {t:.1f}s srv {float(s['server_ms']):.0f} db {float(s['db_ms'] or 0):.0f} q {float(s['queue_ms'] or 0):.0f} gc {float(s['gc_ms'] or 0):.0f} jit {s.get('jit','')}")
print(f'logins until {last:.0f}s: storm {o[0]}/{n[0]}  after {o[1]}/{n[1]}')
print(' '.join(f'{a}:{v[1]}/{v[0]}' for a,v in per.items()))
