"""Realtime benchmark for TaskFlow (`python manage.py bench_realtime`, `make bench`).

Layout: `scenarios` orchestrates a run; `servers` starts and stops the processes under test
(daphne with our app or the baseline app, the raw websockets server, a Celery worker);
`clients` is the load-generator process; `report` is pure arithmetic and table printing;
`db` and `dbtasks` create the bench database and do the ORM work in a child process that
points at it.
"""
