# The two commands of the README. Each sets up what it needs (see scripts/).
.PHONY: demo test sanity bench bench-1000 clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

sanity:
	scripts/sanity.sh

# Benchmarks (see docs/PERFORMANCE.md); each prints its ratios last.
bench:
	scripts/venv.sh primary >/dev/null && scripts/collection_link.sh >/dev/null
	.venv-primary/bin/python bench/round_trips.py
	.venv-primary/bin/python bench/hashing.py
	.venv-primary/bin/python bench/promotion.py
	.venv-primary/bin/python bench/distpoint.py
	.venv-primary/bin/python bench/memory.py
	.venv-primary/bin/python bench/report_write.py --sizes 200,1000
	.venv-primary/bin/python bench/report_html.py
	.venv-primary/bin/python bench/fleet_time.py --sizes 50,200 --forks 20

# The fleet benchmark at 1,000 hosts (long: about 6 runs of 1,000 hosts; see docs/PERFORMANCE.md).
bench-1000:
	scripts/venv.sh primary >/dev/null && scripts/collection_link.sh >/dev/null
	.venv-primary/bin/python bench/fleet_time.py --sizes 1000 --forks 20

clean:
	rm -rf .build .venv-primary .venv-compat .venv-2.18 .venv-2.20
