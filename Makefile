# The two commands of the README. Each sets up what it needs (see scripts/).
.PHONY: demo test sanity clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

sanity:
	scripts/sanity.sh

clean:
	rm -rf .build .venv-primary .venv-compat
