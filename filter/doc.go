// Package filter holds the CloudTrail → OpsWorks logic of the opsworks
// filter, shared by its Fluent Bit plugin and the opsworks-trail CLI:
// configuration, the chunk processor, classification and redaction. It is
// plain Go (no cgo): the plugin only decodes its callback arguments, calls
// into this package and maps the result. The record model and codecs it
// works on are in package record.
package filter
