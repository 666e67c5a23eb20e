package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/keysmith/keysmith"
)

const groupColumns = `id, name, description, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*keysmith.Group, error) {
	var g keysmith.Group
	var created, updated int64
	if err := row.Scan(&g.ID, &g.Name, &g.Description, &created, &updated); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &g, nil
}

func groupNameTaken(name string) error {
	return keysmith.Errorf(keysmith.CodeConflict, "a group named %q exists already (names are compared regardless of case)", name)
}

// CreateGroup stores a new group and records the event. CodeConflict if the
// name is taken.
func (db *DB) CreateGroup(ctx context.Context, g *keysmith.Group) error {
	return db.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_groups (id, name, name_key, description, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, g.ID, g.Name, strings.ToLower(g.Name), g.Description, micros(g.CreatedAt), micros(g.UpdatedAt))
		if db.dialect.isUniqueViolation(err) {
			return groupNameTaken(g.Name)
		}
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventGroupCreated, nil, keysmith.GroupRef(g))
	})
}

// FindGroupByID returns a group. CodeNotFound if there is none.
func (db *DB) FindGroupByID(ctx context.Context, id string) (*keysmith.Group, error) {
	return findGroup(ctx, db.sql, db, id)
}

func findGroup(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, db *DB, id string) (*keysmith.Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM user_groups WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, keysmith.Errorf(keysmith.CodeNotFound, "group %q not found", id)
	}
	return g, db.mapError(err)
}

// FindGroups returns one page of groups, newest first.
func (db *DB) FindGroups(ctx context.Context, f keysmith.GroupFilter) ([]*keysmith.Group, string, error) {
	var c conditions
	if f.Query != "" {
		c.and(`name_key LIKE ` + c.arg(likePattern(f.Query)) + ` ESCAPE '\'`)
	}
	return pageNewestFirst(ctx, db, `SELECT `+groupColumns+` FROM user_groups`, &c, f.Limit, f.Cursor, scanGroup,
		func(g *keysmith.Group) (time.Time, string) { return g.CreatedAt, g.ID })
}

// UpdateGroup changes a group's name or description and records the event.
// CodeNotFound, CodeConflict (name taken).
func (db *DB) UpdateGroup(ctx context.Context, id string, in keysmith.GroupInput) (*keysmith.Group, error) {
	var g *keysmith.Group
	err := db.write(ctx, func(tx *txn) error {
		var err error
		if g, err = findGroup(ctx, tx, db, id); err != nil {
			return err
		}
		var fields []string
		if in.Name != nil && *in.Name != g.Name {
			g.Name, fields = *in.Name, append(fields, "name")
		}
		if in.Description != nil && *in.Description != g.Description {
			g.Description, fields = *in.Description, append(fields, "description")
		}
		if len(fields) == 0 {
			return nil
		}
		g.UpdatedAt = db.now()
		_, err = tx.ExecContext(ctx, `UPDATE user_groups SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5`,
			g.Name, strings.ToLower(g.Name), g.Description, micros(g.UpdatedAt), id)
		if db.dialect.isUniqueViolation(err) {
			return groupNameTaken(g.Name)
		}
		if err != nil {
			return err
		}
		return tx.record(keysmith.EventGroupUpdated, map[string]any{"fields": fields}, keysmith.GroupRef(g))
	})
	return g, err
}

// DeleteGroup deletes a group with its memberships and records the event.
// Members' permissions change with it, so each member's cached record is
// dropped. CodeNotFound.
func (db *DB) DeleteGroup(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *txn) error {
		g, err := findGroup(ctx, tx, db, id)
		if err != nil {
			return err
		}
		members, err := groupIDs(ctx, tx, `SELECT user_id FROM group_members WHERE group_id = $1`, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE id = $1`, id); err != nil {
			return err
		}
		for _, m := range members {
			tx.changed(keysmith.ChangeUser, m)
		}
		return tx.record(keysmith.EventGroupDeleted, map[string]any{"members": len(members)}, keysmith.GroupRef(g))
	})
}

// AddGroupMember adds a user to a group and records the event; adding a
// member again changes nothing. CodeNotFound if either is missing.
func (db *DB) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return db.write(ctx, func(tx *txn) error {
		g, u, err := tx.groupAndUser(groupID, userID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (group_id, user_id) DO NOTHING`, groupID, userID, micros(db.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		tx.changed(keysmith.ChangeUser, userID)
		return tx.record(keysmith.EventGroupMemberAdded, nil, keysmith.GroupRef(g), keysmith.UserRef(u))
	})
}

// RemoveGroupMember removes a user from a group and records the event;
// removing a non-member changes nothing. CodeNotFound if either is missing.
func (db *DB) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return db.write(ctx, func(tx *txn) error {
		g, u, err := tx.groupAndUser(groupID, userID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		tx.changed(keysmith.ChangeUser, userID)
		return tx.record(keysmith.EventGroupMemberGone, nil, keysmith.GroupRef(g), keysmith.UserRef(u))
	})
}

func (tx *txn) groupAndUser(groupID, userID string) (*keysmith.Group, *keysmith.User, error) {
	g, err := findGroup(tx.ctx, tx, tx.db, groupID)
	if err != nil {
		return nil, nil, err
	}
	u, err := scanUser(tx.QueryRowContext(tx.ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, userID))
	if err == sql.ErrNoRows {
		return nil, nil, keysmith.Errorf(keysmith.CodeNotFound, "user %q not found", userID)
	}
	return g, u, err
}

// FindGroupIDsOfUser returns the ids of the groups a user belongs to.
func (db *DB) FindGroupIDsOfUser(ctx context.Context, userID string) ([]string, error) {
	ids, err := groupIDs(ctx, db.sql, `SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id`, userID)
	return ids, db.mapError(err)
}

func groupIDs(ctx context.Context, q querier, query, arg string) ([]string, error) {
	ids, err := queryAll(ctx, q, query, []any{arg}, scanString)
	return nonNil(ids), err
}
