package mempool

// heapOf is a binary heap ordered by first: first(a, b) means a comes out
// before b. When setIndex is not nil it is told every element's position,
// so an element can be fixed or removed in O(log n).
type heapOf[T any] struct {
	items    []T
	first    func(a, b T) bool
	setIndex func(x T, i int)
}

func (h *heapOf[T]) len() int { return len(h.items) }

func (h *heapOf[T]) push(x T) {
	h.items = append(h.items, x)
	h.moved(len(h.items) - 1)
	h.up(len(h.items) - 1)
}

// pop removes and returns the first element; the heap must not be empty.
func (h *heapOf[T]) pop() T {
	return h.remove(0)
}

// remove removes and returns the element at position i.
func (h *heapOf[T]) remove(i int) T {
	x := h.items[i]
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	if i != last {
		h.fix(i)
	}
	if h.setIndex != nil {
		h.setIndex(x, -1)
	}
	return x
}

// fix restores the order after the element at position i changed.
func (h *heapOf[T]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *heapOf[T]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.first(h.items[i], h.items[parent]) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down sifts the element at i towards the leaves and reports whether it
// moved.
func (h *heapOf[T]) down(i int) bool {
	start, n := i, len(h.items)
	for {
		child := 2*i + 1
		if child >= n {
			break
		}
		if right := child + 1; right < n && h.first(h.items[right], h.items[child]) {
			child = right
		}
		if !h.first(h.items[child], h.items[i]) {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i != start
}

func (h *heapOf[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.moved(i)
	h.moved(j)
}

func (h *heapOf[T]) moved(i int) {
	if h.setIndex != nil {
		h.setIndex(h.items[i], i)
	}
}
