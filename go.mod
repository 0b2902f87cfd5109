module github.com/opsworks-trail/opsworks-trail

go 1.24
