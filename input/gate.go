package input

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// gate holds new S3 calls (and local reads and listing steps) while the
// input is paused. A call already under way finishes.
type gate struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed when the pause ends
}

func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused, g.resume = true, make(chan struct{})
	}
}

func (g *gate) unpause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

func (g *gate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// wait returns once the gate is open, or with ctx's error.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		paused, ch := g.paused, g.resume
		g.mu.Unlock()
		if !paused {
			return ctx.Err()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gatedS3 passes every call through the gate first.
type gatedS3 struct {
	inner cloudtrail.S3API
	gate  *gate
}

func (g gatedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := g.gate.wait(ctx); err != nil {
		return nil, err
	}
	return g.inner.ListObjectsV2(ctx, in, optFns...)
}

func (g gatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := g.gate.wait(ctx); err != nil {
		return nil, err
	}
	return g.inner.GetObject(ctx, in, optFns...)
}
