package store

import (
	"slices"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	text := `-- a comment
CREATE TABLE a (x INTEGER);
CREATE TRIGGER a_ins AFTER INSERT ON a
BEGIN
    INSERT INTO b VALUES (new.x);
    UPDATE c SET n = n + 1;
END;
CREATE FUNCTION f() RETURNS trigger AS $$
BEGIN
    UPDATE c SET n = n + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER a_pg AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();
CREATE INDEX a_x ON a (x);
`
	got := splitStatements(text)
	if len(got) != 5 {
		t.Fatalf("splitStatements gave %d statements, want 5:\n%q", len(got), got)
	}
	for i, prefix := range []string{"CREATE TABLE", "CREATE TRIGGER a_ins", "CREATE FUNCTION", "CREATE TRIGGER a_pg", "CREATE INDEX"} {
		if len(got[i]) < len(prefix) || got[i][:len(prefix)] != prefix {
			t.Errorf("statement %d = %q, want it to start with %q", i, got[i], prefix)
		}
	}
}

func TestMigrationNames(t *testing.T) {
	for _, tc := range []struct {
		base    string
		version int64
		engine  string
	}{
		{"001_init.sql", 1, ""},
		{"017_search.sqlite.sql", 17, "sqlite"},
		{"017_search.postgres.sql", 17, "postgres"},
	} {
		v, e, err := migrationName(tc.base)
		if err != nil || v != tc.version || e != tc.engine {
			t.Errorf("migrationName(%q) = %d, %q, %v; want %d, %q", tc.base, v, e, err, tc.version, tc.engine)
		}
	}
	if _, _, err := migrationName("x_init.sql"); err == nil {
		t.Error("migrationName accepted a name without a number")
	}
	if _, err := migrationFiles(); err != nil {
		t.Errorf("the embedded migrations: %v", err)
	}
	if vs := MigrationVersions(); !slices.IsSorted(vs) || len(slices.Compact(slices.Clone(vs))) != len(vs) {
		t.Errorf("MigrationVersions() = %v, want each version once, in order", vs)
	}
}
