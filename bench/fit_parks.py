#!/usr/bin/env python3
# bench/fit_parks.py: ab-w2.sh output files -> each build's W2 CPU per request at equal parking.
#   /usr/bin/python3 bench/fit_parks.py bench/results/recut-ab-w2-4.txt   (needs numpy: python3-numpy)
# On a shared machine a run's CPU per request moves with how often the workers park and are
# woken (a busy neighbour makes them sleep more); the parks are counted per run (SIGUSR1), so
# fit one slope for all builds and compare the intercepts, with their standard errors.
# us_per_req = alpha(server) + beta * parks_per_request: the parks (sleep/wake cycles) are what
# the machine's noise moves; alpha is each build's cost at equal parking.
import re, sys, numpy as np
rows=[]
for f in sys.argv[1:]:
    for line in open(f):
        m=re.match(r"(\S+) round (\d+): (.*)",line)
        if not m or 'error=' in line: continue
        kv=dict(x.split("=",1) for x in m.group(3).split())
        rows.append((m.group(1),float(kv['us_per_req']),float(kv['parks'])/50000))
names=[]
for r in rows:
    if r[0] not in names: names.append(r[0])
X=np.array([[1.0 if n==k else 0.0 for k in names]+[p] for n,us,p in rows]); y=np.array([r[1] for r in rows])
coef,_,_,_=np.linalg.lstsq(X,y,rcond=None)
resid=y-X@coef; s2=(resid**2).sum()/(len(y)-X.shape[1]); cov=s2*np.linalg.inv(X.T@X)
mp=np.median(X[:,-1])
print("fit over %d runs: us_per_req = alpha(build) + %.1f us x parks/request (residual sd %.2f us); median parks/request %.3f" % (len(y), coef[-1], s2**.5, mp))
for i,n in enumerate(names): print("  %-20s alpha %.2f +- %.2f us; at the median parks %.2f us" % (n, coef[i], cov[i,i]**.5, coef[i]+coef[-1]*mp))
for i,n in enumerate(names[1:],1):
    d=coef[i]-coef[0]; se=(cov[i,i]+cov[0,0]-2*cov[i,0])**.5
    print("  %s - %s: %+.2f +- %.2f us (%+.1f %%)" % (n,names[0],d,se,100*d/(coef[0]+coef[-1]*mp)))
