package verify

import "testing"

func TestClockCache(t *testing.T) {
	t.Run("HoldsAtMostItsSize", func(t *testing.T) {
		c := newClockCache[int, string](3)
		for i := range 10 {
			c.put(i, "v")
			if c.len() > 3 {
				t.Fatalf("after %d puts: %d entries, want at most 3", i+1, c.len())
			}
		}
	})

	t.Run("AnEntryReadSinceTheHandPassedSurvives", func(t *testing.T) {
		c := newClockCache[int, int](3)
		for i := range 3 {
			c.put(i, i)
		}
		c.get(0)
		k, _, evicted := c.put(3, 3)
		if !evicted || k != 1 {
			t.Fatalf("put into a full cache evicted %d (%v), want 1: 0 was read, 1 is next", k, evicted)
		}
		if _, ok := c.peek(0); !ok {
			t.Error("the read entry was evicted")
		}
		// 0's bit was cleared as the hand passed: the ring goes on with 2,
		// then 0, then 3 (in 1's slot, never read).
		for _, want := range []int{2, 0, 3} {
			if k, _, _ := c.put(want+100, 0); k != want {
				t.Fatalf("evicted %d, want %d", k, want)
			}
		}
	})

	t.Run("ARemovedSlotIsReusedWithoutEviction", func(t *testing.T) {
		c := newClockCache[string, int](2)
		c.put("a", 1)
		c.put("b", 2)
		if !c.remove("a") || c.remove("a") {
			t.Fatal("remove: want true once, then false")
		}
		if _, _, evicted := c.put("c", 3); evicted {
			t.Error("a put after a remove evicted an entry")
		}
		if v, ok := c.get("b"); !ok || v != 2 {
			t.Errorf("b = %d, %v; want 2, true", v, ok)
		}
	})

	t.Run("PutOfAKnownKeyReplacesItsValue", func(t *testing.T) {
		c := newClockCache[string, int](1)
		c.put("a", 1)
		if _, _, evicted := c.put("a", 2); evicted {
			t.Error("replacing a value evicted an entry")
		}
		if v, _ := c.get("a"); v != 2 || c.len() != 1 {
			t.Errorf("a = %d with %d entries, want 2 with 1", v, c.len())
		}
	})

	t.Run("ClearEmptiesIt", func(t *testing.T) {
		c := newClockCache[int, int](2)
		c.put(1, 1)
		c.put(2, 2)
		c.clear()
		if c.len() != 0 {
			t.Fatalf("%d entries after clear", c.len())
		}
		c.put(3, 3)
		c.put(4, 4)
		if _, _, evicted := c.put(5, 5); !evicted || c.len() != 2 {
			t.Errorf("a third put after clear: evicted %v, %d entries; want an eviction and 2", evicted, c.len())
		}
	})
}
