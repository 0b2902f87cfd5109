package input

import (
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// Batch is what one Collect hands to Fluent Bit: the records of whole
// objects, in listing order.
type Batch struct {
	Records []byte // msgpack log events [[time, {}], body], concatenated
	Count   int    // records in Records
	Objects int    // objects whose records are in Records

	keys      []cloudtrail.Key // the objects, for the checkpoint
	msgs      []*message       // SQS mode: the message of each object
	seqs      []uint64         // their listing numbers, for the lag
	committed bool
}

// prepared is one object's outcome, waiting for Collect. An object with
// no records (nothing kept, or failed and to be retried) is settled when
// it is put, and only keeps its place in the order.
type prepared struct {
	seq     uint64
	key     cloudtrail.Key
	msg     *message // SQS mode: the message that named the object
	records []byte
	count   int
}

// queue hands prepared objects out in listing order and bounds the bytes
// waiting (see "Memory" in the package documentation).
type queue struct {
	mu         sync.Mutex
	room       *sync.Cond // signalled when bytes leave or the head moves, and on cancel
	limit      int
	ready      map[uint64]*prepared
	head, next uint64 // next number to hand out; next number to assign
	buffered   int
	peak       int
	outBatches int                  // batches handed out, not yet committed
	pending    map[uint64]time.Time // listed and not settled: delivery times, for the lag
	finished   bool                 // the bounded pass is over and all workers returned
	canceled   bool
}

func (q *queue) init(limit int) {
	q.limit = limit
	q.room = sync.NewCond(&q.mu)
	q.ready = map[uint64]*prepared{}
	q.pending = map[uint64]time.Time{}
}

// assign numbers a listed object.
func (q *queue) assign(t time.Time) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.next
	q.next++
	q.pending[seq] = t
	return seq
}

// put waits until p fits under the limit — or is the object Collect needs
// next, which always gets in so the order can never deadlock — and stores
// it. It returns false if the run was canceled first.
func (q *queue) put(p *prepared) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.canceled && p.seq != q.head && q.buffered+len(p.records) > q.limit {
		q.room.Wait()
	}
	if q.canceled {
		return false
	}
	if len(p.records) == 0 {
		delete(q.pending, p.seq)
	}
	q.ready[p.seq] = p
	q.buffered += len(p.records)
	q.peak = max(q.peak, q.buffered)
	q.skipSettledLocked()
	return true
}

// skipSettledLocked moves the head past objects with nothing to hand out.
func (q *queue) skipSettledLocked() {
	moved := false
	for p := q.ready[q.head]; p != nil && len(p.records) == 0; p = q.ready[q.head] {
		delete(q.ready, q.head)
		q.head++
		moved = true
	}
	if moved {
		q.room.Broadcast()
	}
}

// take removes whole objects from the head, up to maxBytes (at least one
// object, however large), and returns them as a batch; nil when the head
// object is not ready.
func (q *queue) take(maxBytes int) *Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.skipSettledLocked()
	var parts []*prepared
	size := 0
	for p := q.ready[q.head]; p != nil; p = q.ready[q.head] {
		if len(parts) > 0 && size+len(p.records) > maxBytes {
			break
		}
		parts = append(parts, p)
		size += len(p.records)
		delete(q.ready, q.head)
		q.head++
		q.skipSettledLocked()
	}
	if len(parts) == 0 {
		return nil
	}
	q.buffered -= size
	q.outBatches++
	q.room.Broadcast()
	return joinParts(parts, size)
}

func joinParts(parts []*prepared, size int) *Batch {
	b := &Batch{Objects: len(parts), Records: parts[0].records}
	if len(parts) > 1 {
		b.Records = make([]byte, 0, size)
	}
	for _, p := range parts {
		if len(parts) > 1 {
			b.Records = append(b.Records, p.records...)
		}
		b.Count += p.count
		b.keys = append(b.keys, p.key)
		b.msgs = append(b.msgs, p.msg)
		b.seqs = append(b.seqs, p.seq)
	}
	return b
}

// committed settles a batch's objects.
func (q *queue) committed(b *Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range b.seqs {
		delete(q.pending, s)
	}
	q.outBatches--
}

// finish marks the bounded pass over.
func (q *queue) finish() {
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()
}

// drained: the pass is over, nothing waits and every batch is committed.
func (q *queue) drained() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.skipSettledLocked()
	return q.finished && len(q.ready) == 0 && q.outBatches == 0
}

// wake releases every waiting put (Stop).
func (q *queue) wake() {
	q.mu.Lock()
	q.canceled = true
	q.room.Broadcast()
	q.mu.Unlock()
}

// usage is the bytes waiting now, the most ever, and the delivery time of
// the oldest object not yet settled (zero if none).
func (q *queue) usage() (buffered, peak int, oldest time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.pending {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return q.buffered, q.peak, oldest
}
