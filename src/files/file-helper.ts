/**
 * The program that does the file routes' I/O in a confined sandbox, run as the sandbox user for one
 * operation at a time (`perl -e FILE_HELPER -- <op> <args>`): the kernel checks every open, stat and
 * rename against that user's rights, so no path, symlink or race can make the server read or write
 * a file of its own. Perl because `perl-base` is in every Debian image and starts in a few
 * milliseconds; only core modules that `perl-base` ships are used (Fcntl, Errno).
 *
 * What it prints is as untrusted as the files it reads (user code can trace a process of its own
 * user): the server parses it strictly and only ever shows it back to the client.
 *
 * Answers on stdout. Failure: one line `error <ERRNO> <message>` and exit 1. Success:
 * - `read PATH`: `ok <size>\n`, then exactly <size> bytes (a regular file only; the size fstat gave,
 *   so a file that grows meanwhile cannot make the answer endless). FIFOs are opened non-blocking.
 * - `list PATH`: `ok dir\n` or `ok file\n`, then for each entry (the file itself, for a file)
 *   `<type>\0<size>\0<mtime>\0<name>\0`, type one of f d l o, read with lstat.
 * - `stage PATH`: creates PATH's parent directories and PATH (a new file, never through a
 *   symlink), copies stdin into it, prints `ok <bytes>\n`.
 * - `mkdir PATH`: creates PATH and its parents; `ok\n` (an error if a file is in the way).
 * - `place DIR (STAGED DEST NAME)...`: for each triple moves STAGED to DEST; when NAME is not empty
 *   and DEST is an existing directory, to DEST/NAME. DIR, when not empty, is created first and
 *   must be a directory. Parents are created; DEST may not be a directory; an existing symlink at
 *   DEST is written through, as `>` would. Prints `ok\n`, then each final path and `\0`.
 */
export const FILE_HELPER = String.raw`
use strict;
use warnings;
use Fcntl qw(:DEFAULT :mode F_GETFL F_SETFL);
binmode STDOUT;
binmode STDIN;
$| = 1;

sub fail {
  my ($what) = @_;
  my ($name) = grep { $!{$_} } keys %!;
  print "error ", ($name // "EIO"), " $what: $!\n";
  exit 1;
}
sub refuse { my ($name, $what) = @_; print "error $name $what\n"; exit 1; }

sub write_all {
  my ($fh, $data) = @_;
  my $off = 0;
  while ($off < length $data) {
    my $n = syswrite($fh, $data, length($data) - $off, $off);
    return 0 unless defined $n;
    $off += $n;
  }
  return 1;
}

sub copy_fh {
  my ($in, $out, $limit) = @_;
  my $total = 0;
  while (!defined $limit || $total < $limit) {
    my $want = 262144;
    $want = $limit - $total if defined $limit && $limit - $total < $want;
    my $n = sysread($in, my $buf, $want);
    return undef unless defined $n;
    last if $n == 0;
    write_all($out, $buf) or return undef;
    $total += $n;
  }
  return $total;
}

sub mkdirs {
  my ($path) = @_;
  return 1 if -d $path;
  my $sofar = $path =~ m{^/} ? "" : ".";
  for my $part (grep { length } split m{/}, $path) {
    $sofar .= "/$part";
    next if -d $sofar;
    next if mkdir($sofar, 0777);
    next if $!{EEXIST} && -d $sofar;
    $! = 20 if $!{EEXIST};    # ENOTDIR: a file is in the way
    fail("cannot create directory $sofar");
  }
  return 1;
}

sub parent { my ($path) = @_; $path =~ s{/+[^/]*$}{}; return length $path ? $path : "/"; }

sub place_one {
  my ($staged, $dest) = @_;
  mkdirs(parent($dest));
  refuse("EISDIR", "$dest is a directory; name a file inside it") if -d $dest;
  if (!-l $dest) {
    return 1 if rename($staged, $dest);
    fail("cannot move the upload to $dest") unless $!{EXDEV};
  }
  sysopen(my $in, $staged, O_RDONLY) or fail("cannot read the staged upload");
  sysopen(my $out, $dest, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0666) or fail("cannot write $dest");
  my @st = stat($out);
  refuse("ENOTREG", "$dest is not a regular file") unless S_ISREG($st[2]);
  defined copy_fh($in, $out) or fail("cannot write $dest");
  close($out) or fail("cannot write $dest");
  unlink($staged);
  return 1;
}

my ($op, @args) = @ARGV;
$op //= "";
if ($op eq "read") {
  my ($path) = @args;
  sysopen(my $fh, $path, O_RDONLY | O_NONBLOCK) or fail("cannot open $path");
  my @st = stat($fh) or fail("cannot stat $path");
  refuse("EISDIR", "$path is a directory") if S_ISDIR($st[2]);
  refuse("ENOTREG", "$path is not a regular file") unless S_ISREG($st[2]);
  fcntl($fh, F_SETFL, fcntl($fh, F_GETFL, 0) & ~O_NONBLOCK);
  print "ok $st[7]\n";
  defined copy_fh($fh, \*STDOUT, $st[7]) or exit 2;
} elsif ($op eq "list") {
  my ($path) = @args;
  my @st = stat($path) or fail("cannot open $path");
  my $entry = sub {
    my ($name, @l) = @_;
    my $type = S_ISLNK($l[2]) ? "l" : S_ISDIR($l[2]) ? "d" : S_ISREG($l[2]) ? "f" : "o";
    print join("\0", $type, S_ISREG($l[2]) ? $l[7] : 0, $l[9], $name), "\0";
  };
  if (!S_ISDIR($st[2])) {
    my @l = lstat($path) or fail("cannot open $path");
    print "ok file\n";
    (my $name = $path) =~ s{.*/}{};
    $entry->($name, @l);
    exit 0;
  }
  opendir(my $dh, $path) or fail("cannot list $path");
  my @names = sort grep { $_ ne "." && $_ ne ".." } readdir($dh);
  print "ok dir\n";
  for my $name (@names) {
    my @l = lstat("$path/$name") or next;
    $entry->($name, @l);
  }
} elsif ($op eq "stage") {
  my ($path) = @args;
  mkdirs(parent($path));
  sysopen(my $out, $path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666) or fail("cannot write $path");
  my $n = copy_fh(\*STDIN, $out);
  defined $n or fail("cannot write $path");
  close($out) or fail("cannot write $path");
  print "ok $n\n";
} elsif ($op eq "mkdir") {
  mkdirs($args[0]);
  print "ok\n";
} elsif ($op eq "place") {
  my ($dir, @triples) = @args;
  if (length $dir) {
    mkdirs($dir);
  }
  my @placed;
  while (@triples) {
    my ($staged, $dest, $name) = splice(@triples, 0, 3);
    $dest = "$dest/$name" if length $name && -d $dest;
    place_one($staged, $dest);
    push @placed, $dest;
  }
  print "ok\n", map { "$_\0" } @placed;
} else {
  refuse("EINVAL", "unknown operation $op");
}
`;
