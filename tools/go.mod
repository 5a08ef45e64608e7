module github.com/bayhq/bay/tools

go 1.26
