# tern: the two commands a fresh Debian 12 machine needs (as root).
#   make demo   install what is missing, then a live migration between local test hosts
#   make test   install what is missing, then every test
.PHONY: install demo test test-unit lint build clean

install:
	bash deploy/install.sh

build:
	npm run --silent build

demo: install
	bash deploy/demo.sh

test: install
	bash test/run.sh

test-unit: build
	npx mocha --spec 'dist/test/unit/**/*.test.js' --spec 'dist/test/grpc/**/*.test.js' --spec 'dist/test/inproc/**/*.test.js'

lint:
	npx biome check .

clean:
	rm -rf dist
