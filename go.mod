module github.com/bayhq/bay

go 1.26
