// Hunks of a unified diff and undoing one of them (core/reviewHunks.ts).
import * as assert from 'node:assert/strict';
import { conflictRegions, hunkId, HunkDoesNotApplyError, parseUnifiedDiff, revertHunk } from '../../../src/core/reviewHunks';

const PATCH = `diff --git a/src/a.js b/src/a.js
index 1111111..2222222 100644
--- a/src/a.js
+++ b/src/a.js
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
@@ -10,2 +10,3 @@ function f() {
 ten
 eleven
+twelve
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
\\ No newline at end of file
`;

describe('review: hunks', () => {
  it('parses files, statuses and hunks with an identity made of path and lines', () => {
    const files = parseUnifiedDiff(PATCH);
    assert.deepEqual(files.map((f) => [f.path, f.status, f.hunks.length]), [['src/a.js', 'modified', 2], ['new.txt', 'added', 1], ['gone.txt', 'deleted', 1]]);
    const [first] = files[0]!.hunks;
    assert.equal(first!.id, hunkId('src/a.js', [' one', '-two', '+TWO', ' three']));
    assert.equal(files[0]!.hunks[1]!.header, '@@ -10,2 +10,3 @@ function f() {');
  });

  it('undoes one hunk of the file the attempt left, and checks its lines are there', () => {
    const [file] = parseUnifiedDiff(PATCH);
    const after = ['one', 'TWO', 'three', '4', '5', '6', '7', '8', '9', 'ten', 'eleven', 'twelve', ''].join('\n');
    assert.equal(revertHunk(after, file!.hunks[0]!), after.replace('TWO', 'two'));
    assert.equal(revertHunk(after, file!.hunks[1]!), after.replace('twelve\n', ''));
    assert.throws(() => revertHunk(after.replace('TWO', 'Two'), file!.hunks[0]!), HunkDoesNotApplyError);
  });

  it('undoes an added file to nothing and a deleted file back, newline as it was', () => {
    const files = parseUnifiedDiff(PATCH);
    assert.equal(revertHunk('hello\nworld\n', files[1]!.hunks[0]!), '');
    assert.equal(revertHunk('', files[2]!.hunks[0]!), 'bye');
  });

  it('finds conflict regions in a merge-file result', () => {
    assert.deepEqual(conflictRegions('a\n<<<<<<< working file\nx\n=======\ny\n>>>>>>> hunk reverted\nb\n'), [{ from: 2, to: 6 }]);
  });
});
