/**
 * The program that does the file routes' I/O in a confined sandbox, run as the sandbox user
 * (`perl -e FILE_HELPER`): the kernel checks every open, stat and rename against that user's
 * rights, so no path, symlink or race can make the server read or write a file of its own. Perl
 * because `perl-base` is in every Debian image and costs a few MB; only modules `perl-base` ships
 * are used (Fcntl, Errno, File::Path).
 *
 * A helper serves requests one after the other on stdin, so a warm one answers in a fraction of a
 * millisecond where starting a process costs several (see `HelperPool`). What it prints is as
 * untrusted as the files it reads (user code may trace a process of its own user): the server
 * parses it strictly, bounds every length, and only ever shows it back to the client.
 *
 * Request: one line, the operation and its arguments hex-encoded, separated by spaces.
 * Answer: one line, `ok <word> <length>` then exactly <length> bytes, or `error <ERRNO> <message>`.
 * - `read PATH`: `ok - <size>` and the file (a regular file only, `size` as fstat gave it, so a
 *   file that grows meanwhile cannot make the answer endless; FIFOs are opened non-blocking).
 * - `list PATH`: `ok dir|file <n>`, then for each entry (the file itself, for a file)
 *   `<type>\0<size>\0<mtime>\0<name>\0`, type one of f d l o, read with lstat.
 * - `stage PATH`, then the bytes as frames (`<n>\n` and n bytes; `0\n` ends): creates PATH's
 *   parents and PATH (a new file, never through a symlink); `ok <bytes> 0`.
 * - `mkdir PATH`: PATH and its parents (an error if a file is in the way); `ok - 0`.
 * - `remove PATH...`: each file or tree, symlinks removed, never followed; `ok - 0`.
 * - `place DIR (STAGED DEST NAME)...`: for each triple moves STAGED to DEST; when NAME is not empty
 *   and DEST is an existing directory, to DEST/NAME. DIR, when not empty, is created first and
 *   must be a directory. Parents are created; DEST may not be a directory; an existing symlink at
 *   DEST is written through, as `>` would. `ok - <n>`, then each final path and `\0`.
 * An error in the middle of an answer ends the helper; after any other it serves the next request.
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
  die "error " . ($name // "EIO") . " $what: $!\n";
}
sub refuse { my ($name, $what) = @_; die "error $name $what\n"; }
sub answer { my ($word, $body) = @_; print "ok $word ", length($body), "\n", $body; }

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
  my $sofar = "";
  for my $part (grep { length } split m{/}, $path) {
    $sofar .= "/$part";
    next if -d $sofar;
    next if mkdir($sofar, 0777);
    if ($!{EEXIST}) {
      next if -d $sofar;
      stat($sofar) or fail("cannot create directory $sofar");    # a link we may not follow: its errno
      $! = 20;                                                   # ENOTDIR: a file is in the way
    }
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

# Reads the frames of a staged upload into $out (or, with no $out, drops them): the byte count and
# the errno of a failed write (0 if none); no count at a bad frame.
sub frames {
  my ($out) = @_;
  my ($total, $errno) = (0, 0);
  for (;;) {
    my $line = <STDIN>;
    return (undef, 0) unless defined $line && $line =~ /^(\d+)\n\z/;
    my $n = $1;
    return ($total, $errno) if $n == 0;
    while ($n > 0) {
      my $got = read(STDIN, my $buf, $n > 262144 ? 262144 : $n);
      return (undef, 0) unless $got;
      $n -= $got;
      $total += $got;
      $errno = $! + 0 if !$errno && $out && !write_all($out, $buf);
    }
  }
}

my %ops = (
  read => sub {
    my ($path) = @_;
    sysopen(my $fh, $path, O_RDONLY | O_NONBLOCK) or fail("cannot open $path");
    my @st = stat($fh) or fail("cannot stat $path");
    refuse("EISDIR", "$path is a directory") if S_ISDIR($st[2]);
    refuse("ENOTREG", "$path is not a regular file") unless S_ISREG($st[2]);
    fcntl($fh, F_SETFL, fcntl($fh, F_GETFL, 0) & ~O_NONBLOCK);
    print "ok - $st[7]\n";
    my $sent = copy_fh($fh, \*STDOUT, $st[7]);
    exit 2 unless defined $sent && $sent == $st[7];    # the answer is cut short: end it
  },
  list => sub {
    my ($path) = @_;
    my @st = stat($path) or fail("cannot open $path");
    my $entry = sub {
      my ($name, @l) = @_;
      my $type = S_ISLNK($l[2]) ? "l" : S_ISDIR($l[2]) ? "d" : S_ISREG($l[2]) ? "f" : "o";
      return join("\0", $type, S_ISREG($l[2]) ? $l[7] : 0, $l[9], $name) . "\0";
    };
    if (!S_ISDIR($st[2])) {
      my @l = lstat($path) or fail("cannot open $path");
      (my $name = $path) =~ s{.*/}{};
      return answer("file", $entry->($name, @l));
    }
    opendir(my $dh, $path) or fail("cannot list $path");
    my $body = "";
    for my $name (sort grep { $_ ne "." && $_ ne ".." } readdir($dh)) {
      my @l = lstat("$path/$name") or next;
      $body .= $entry->($name, @l);
    }
    answer("dir", $body);
  },
  stage => sub {
    my ($path) = @_;
    my ($out, $error);
    eval {
      mkdirs(parent($path));
      sysopen($out, $path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666) or fail("cannot write $path");
      1;
    } or $error = $@;
    my ($total, $errno) = frames($out);
    exit 3 unless defined $total;    # the frames went wrong: the stream is lost
    die $error if $error;
    $! = $errno if $errno;
    !$errno && close($out) or fail("cannot write $path");
    print "ok $total 0\n";
  },
  mkdir => sub { mkdirs($_[0]); answer("-", ""); },
  remove => sub {
    require File::Path;
    for my $path (@_) {
      if (-d $path && !-l $path) { File::Path::remove_tree($path, { safe => 0, error => \my $ignored }); }
      else { unlink($path); }
    }
    answer("-", "");
  },
  place => sub {
    my ($dir, @triples) = @_;
    mkdirs($dir) if length $dir;
    my @placed;
    while (@triples) {
      my ($staged, $dest, $name) = splice(@triples, 0, 3);
      $dest = "$dest/$name" if length $name && -d $dest;
      place_one($staged, $dest);
      push @placed, $dest;
    }
    answer("-", join("", map { "$_\0" } @placed));
  },
);

while (defined(my $line = <STDIN>)) {
  chomp $line;
  my ($op, @args) = map { pack "H*", $_ } split / /, $line, -1;
  my $run = $ops{$op // ""} or do { print "error EINVAL unknown operation\n"; next; };
  eval { $run->(@args); 1 } or print($@ =~ /^error / ? $@ : "error EIO $@");
}
`;
